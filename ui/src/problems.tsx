import type { Caller, Held, Problem, TrashItem } from './api.js';
import { age, duration } from './format.js';

export function ProblemsPage({
  problems,
  held,
  caller,
  act,
  confirmDeletions,
}: {
  problems: Problem[];
  held: Held;
  caller: Caller;
  act: (what: string, run: () => Promise<unknown>) => Promise<void>;
  confirmDeletions: () => Promise<unknown>;
}) {
  const heldCount = held.databases.length + held.templates.length;
  return (
    <>
      <section aria-labelledby="held-title">
        <h2 id="held-title">Held removals</h2>
        {heldCount === 0 ? (
          <p class="empty">None: no mass removal is waiting.</p>
        ) : (
          <div class="card">
            <p>
              The deletion guard holds these removals: too many specs disappeared at once. Restore the files
              if that was a mistake; confirm if it was meant.
            </p>
            <ul class="held">
              {held.templates.map((n) => (
                <li key={`t-${n}`}>Template {n}</li>
              ))}
              {held.databases.map((n) => (
                <li key={`d-${n}`}>Database {n}</li>
              ))}
            </ul>
            {caller.role === 'admin' && (
              <button
                type="button"
                class="danger"
                onClick={() => act(`Removal of ${heldCount} confirmed`, confirmDeletions)}
              >
                Confirm {heldCount} removal{heldCount > 1 ? 's' : ''}
              </button>
            )}
          </div>
        )}
      </section>
      <section aria-labelledby="problems-title">
        <h2 id="problems-title">Spec problems</h2>
        {problems.length === 0 ? (
          <p class="empty">None: every spec file reads well.</p>
        ) : (
          <ul class="problems">
            {problems.map((p) => (
              <li key={p.text}>
                <code class="where">
                  {p.file}
                  {p.line ? `:${p.line}` : ''}
                </code>{' '}
                {p.message}
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

export function TrashPage({
  items,
  caller,
  now,
  act,
  restore,
}: {
  items: TrashItem[];
  caller: Caller;
  now: number;
  act: (what: string, run: () => Promise<unknown>) => Promise<void>;
  restore: (id: string) => Promise<unknown>;
}) {
  if (items.length === 0) return <p class="empty">The trash is empty.</p>;
  return (
    <ul class="cards" aria-label="Trash">
      {items.map((item) => (
        <li key={item.id} class="card" data-trash={item.name}>
          <div class="card-head">
            <h3>{item.name}</h3>
            <span class="engine">{item.kind}</span>
          </div>
          <p class="muted">
            {item.reason} {age(item.trashedAt, now)}
            {item.template ? ` · template ${item.template}` : ''} · kept{' '}
            {duration((Date.parse(item.expiresAt) - now) / 1000)} more
          </p>
          {item.kind === 'Database' && caller.role !== 'viewer' && (
            <div class="actions">
              <button type="button" onClick={() => act(`Restoring ${item.name}`, () => restore(item.id))}>
                Restore
              </button>
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}
