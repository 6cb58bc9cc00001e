import { useState } from 'preact/hooks';
import { type Caller, type Connection, type Database, OWNER, type Template, api, isManaged } from './api.js';
import { age, duration, timeLeft } from './format.js';
import { type Confirmation, CopyButton, Phase } from './widgets.js';

interface Props {
  databases: Database[];
  templates: Template[];
  caller: Caller;
  now: number;
  trashDays: number;
  act: (what: string, run: () => Promise<unknown>) => Promise<void>;
  confirm: (ask: Confirmation) => void;
}

export function DatabasesPage(props: Props) {
  const { databases, caller } = props;
  const [showAll, setShowAll] = useState(false);
  // Admins see everyone's; by default the page shows the caller's own, as developers only ever do.
  const mine = databases.filter((d) => d.metadata.annotations?.[OWNER] === caller.name);
  const shown = caller.role === 'admin' && showAll ? databases : caller.role === 'viewer' ? databases : mine;
  return (
    <>
      {caller.role !== 'viewer' && <CreateForm {...props} />}
      {caller.role === 'admin' && (
        <label class="toggle">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.currentTarget.checked)} />{' '}
          Show everyone's databases ({databases.length})
        </label>
      )}
      {shown.length === 0 ? (
        <p class="empty">No databases{caller.role === 'viewer' ? '' : ' of yours'} yet.</p>
      ) : (
        <ul class="cards" aria-label="Databases">
          {shown.map((d) => (
            <DatabaseCard
              key={d.metadata.name}
              {...props}
              database={d}
              showOwner={caller.role !== 'developer'}
            />
          ))}
        </ul>
      )}
    </>
  );
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function CreateForm({ templates, act }: Props) {
  const ready = templates.filter((t) => t.status?.currentVersion);
  const [name, setName] = useState('');
  const [template, setTemplate] = useState('');
  const [ttl, setTtl] = useState('8h');
  const chosen = template || ready[0]?.metadata.name || '';
  const nameProblem =
    name && !NAME_RE.test(name) ? 'lower-case letters, digits and -, e.g. my-db' : undefined;
  return (
    <form
      class="create"
      aria-label="Create a database"
      onSubmit={async (event) => {
        event.preventDefault();
        if (nameProblem || !chosen) return;
        await act(`Database ${name} created`, async () => {
          await api.create(name, chosen, ttl.trim());
          setName('');
        });
      }}
    >
      <label>
        Name
        <input
          name="name"
          value={name}
          required
          autocomplete="off"
          placeholder="my-db"
          aria-invalid={nameProblem ? 'true' : 'false'}
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </label>
      <label>
        Template
        <select name="template" value={chosen} onChange={(e) => setTemplate(e.currentTarget.value)} required>
          {ready.length === 0 && <option value="">no ready template</option>}
          {ready.map((t) => (
            <option key={t.metadata.name} value={t.metadata.name}>
              {t.metadata.name} ({t.spec.engine})
            </option>
          ))}
        </select>
      </label>
      <label>
        TTL
        <input
          name="ttl"
          value={ttl}
          placeholder="8h"
          size={5}
          onInput={(e) => setTtl(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary" disabled={!chosen || !name || Boolean(nameProblem)}>
        Create
      </button>
      {nameProblem && <p class="hint">Name: {nameProblem}</p>}
    </form>
  );
}

function DatabaseCard({
  database,
  now,
  act,
  confirm,
  trashDays,
  showOwner,
}: Props & { database: Database; showOwner: boolean }) {
  const name = database.metadata.name;
  const status = database.status;
  const phase = status?.phase ?? 'Pending';
  const left = timeLeft(status?.expiresAt, now);
  const managed = isManaged(database);
  // Stopped by the idle watch: its spec still says Running, and a start request brings it back.
  const idleStopped =
    database.spec.state === 'Running' &&
    (status?.conditions ?? []).some((c) => c.type === 'IdleStopped' && c.status === 'True');
  const [connection, setConnection] = useState<Connection | undefined>();
  const [open, setOpen] = useState(false);
  const toggle = async () => {
    if (open) return setOpen(false);
    await act('', async () => {
      setConnection(await api.connection(name));
      setOpen(true);
    });
  };
  const fileNote = managed
    ? undefined
    : `Declared in ${database.source?.file ?? 'a spec file'}: change it there`;
  const trashNote =
    trashDays > 0
      ? `It goes to the trash: restorable for ${trashDays < 1 ? `${Math.round(trashDays * 24)} hours` : `${trashDays} days`}.`
      : 'There is no trash on this controller: its data is gone for good.';
  return (
    <li class="card" data-database={name}>
      <div class="card-head">
        <h3>{name}</h3>
        <Phase phase={phase} />
        {left && (
          <span class="countdown" title={`expires at ${status?.expiresAt}`} aria-label={`time left ${left}`}>
            {left} left
          </span>
        )}
      </div>
      <dl class="facts">
        <dt>Template</dt>
        <dd>
          {status?.template ?? database.spec.template}
          {status?.templateVersion && <code class="muted"> {status.templateVersion}</code>}
        </dd>
        {status?.branchedFrom && (
          <>
            <dt>Branched from</dt>
            <dd>
              {status.branchedFrom.database}{' '}
              <span class="muted">at {new Date(status.branchedFrom.at).toLocaleString()}</span>
            </dd>
          </>
        )}
        {showOwner && (
          <>
            <dt>Owner</dt>
            <dd>{database.metadata.annotations?.[OWNER] ?? 'operator'}</dd>
          </>
        )}
        {status?.connection && (
          <>
            <dt>Server</dt>
            <dd>
              <code class="endpoint">
                {status.connection.host}:{status.connection.port}
              </code>{' '}
              user <code>{status.connection.user}</code>
            </dd>
          </>
        )}
        {status?.idle && (
          <>
            <dt>Idle</dt>
            <dd class="idle">
              {phase === 'Ready' ? `${duration((now - Date.parse(status.idle.countedFrom)) / 1000)} of ` : ''}
              {status.idle.after}, then {status.idle.action === 'Stop' ? 'stopped' : 'deleted'}
              {status.lastActivity && (
                <span class="muted"> · last client {age(status.lastActivity, now)}</span>
              )}
            </dd>
          </>
        )}
        {status?.message && phase !== 'Ready' && (
          <>
            <dt>Status</dt>
            <dd class={phase === 'Failed' ? 'failure' : ''}>{status.message}</dd>
          </>
        )}
      </dl>
      {open && connection && (
        <dl class="secrets" aria-label={`Connection to ${name}`}>
          <dt>Password</dt>
          <dd>
            <code class="password">{connection.password}</code>{' '}
            <CopyButton text={connection.password} label="password" />
          </dd>
          <dt>DSN</dt>
          <dd>
            <code class="dsn">{connection.dsn}</code> <CopyButton text={connection.dsn} label="DSN" />
          </dd>
          <dt>Client</dt>
          <dd>
            <code class="command">{connection.command}</code>{' '}
            <CopyButton text={connection.command} label="client command" />
          </dd>
        </dl>
      )}
      {fileNote && <p class="hint">{fileNote}</p>}
      <div class="actions">
        {status?.connection && (
          <button type="button" onClick={toggle} aria-expanded={open}>
            {open ? 'Hide credentials' : 'Credentials'}
          </button>
        )}
        {managed && database.spec.state === 'Running' && !idleStopped && (
          <button
            type="button"
            onClick={() =>
              act(`Stopping ${name}`, () => api.change(database, (s) => ({ ...s, state: 'Stopped' })))
            }
          >
            Stop
          </button>
        )}
        {((managed && database.spec.state === 'Stopped') || idleStopped) && (
          <button type="button" onClick={() => act(`Starting ${name}`, () => api.start(name))}>
            Start
          </button>
        )}
        {managed && <ExtendButton database={database} now={now} act={act} />}
        {managed && (
          <button
            type="button"
            onClick={() =>
              confirm({
                title: `Reset ${name}?`,
                body: (
                  <p>Its data is replaced by a fresh copy of the template. The password and port stay.</p>
                ),
                action: 'Reset',
                danger: true,
                run: () => act(`Reset of ${name} requested`, () => api.reset(name)),
              })
            }
          >
            Reset
          </button>
        )}
        {managed && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              confirm({
                title: `Delete ${name}?`,
                body: <p>{trashNote}</p>,
                action: 'Delete',
                danger: true,
                run: () => act(`Deleted ${name}`, () => api.remove(name)),
              })
            }
          >
            Delete
          </button>
        )}
      </div>
    </li>
  );
}

/** Extend: the expiry becomes now + the chosen duration, never sooner than it is (as `myaas extend`). */
function ExtendButton({ database, now, act }: { database: Database; now: number; act: Props['act'] }) {
  const hours = [1, 8, 24];
  const extend = (h: number) => {
    const wanted = Math.ceil((now + h * 3_600_000) / 1000) * 1000;
    const current = database.status?.expiresAt ? Date.parse(database.status.expiresAt) : undefined;
    if (current !== undefined && current >= wanted)
      return act(`${database.metadata.name} already lasts longer`, async () => {});
    return act(`${database.metadata.name} extended by ${h}h`, () =>
      api.change(database, ({ ttl: _ttl, ...spec }) => ({
        ...spec,
        expiresAt: new Date(wanted).toISOString(),
      })),
    );
  };
  return (
    <span class="extend">
      <span class="muted">Expire in</span>
      {hours.map((h) => (
        <button
          key={h}
          type="button"
          class="small"
          title={`expire ${h} hours from now`}
          onClick={() => extend(h)}
        >
          {h}h
        </button>
      ))}
    </span>
  );
}
