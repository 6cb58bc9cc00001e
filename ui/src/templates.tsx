import type { Caller, Template } from './api.js';
import { age, bytes, duration } from './format.js';
import { Phase, ProgressBar } from './widgets.js';

interface Props {
  templates: Template[];
  caller: Caller;
  now: number;
  act: (what: string, run: () => Promise<unknown>) => Promise<void>;
  reimport: (name: string) => Promise<unknown>;
}

export function TemplatesPage({ templates, caller, now, act, reimport }: Props) {
  if (templates.length === 0)
    return (
      <p class="empty">
        No templates yet. Put a dump (<code>.sql</code>, <code>.sql.gz</code>, <code>.dump</code>) in the
        dumps folder, or a <code>kind: Template</code> spec in the specs folder.
      </p>
    );
  return (
    <ul class="cards" aria-label="Templates">
      {templates.map((t) => (
        <TemplateCard
          key={t.metadata.name}
          template={t}
          caller={caller}
          now={now}
          act={act}
          reimport={reimport}
        />
      ))}
    </ul>
  );
}

function TemplateCard({
  template,
  caller,
  now,
  act,
  reimport,
}: Omit<Props, 'templates'> & { template: Template }) {
  const name = template.metadata.name;
  const status = template.status;
  const phase = status?.phase ?? 'Pending';
  const progress = phase === 'Importing' ? status?.progress : undefined;
  const last = status?.lastImport;
  const info = status?.currentVersionInfo;
  return (
    <li class="card" data-template={name}>
      <div class="card-head">
        <h3>{name}</h3>
        <span class="engine">{template.spec.engine}</span>
        <Phase phase={phase} />
      </div>
      <dl class="facts">
        <dt>Ready version</dt>
        <dd>
          {status?.currentVersion ? (
            <>
              <code>{status.currentVersion}</code>
              {info && (
                <span class="muted">
                  {' '}
                  made {age(info.createdAt, now)} from a {bytes(info.dumpBytes)} dump in{' '}
                  {duration(info.importSeconds)}
                </span>
              )}
            </>
          ) : (
            <span class="muted">none yet</span>
          )}
        </dd>
        <dt>Versions kept</dt>
        <dd>{status?.versions.length ?? 0}</dd>
        {status?.pool && (
          <>
            <dt>Warm pool</dt>
            <dd data-pool>
              {status.pool.ready} of {status.pool.target} ready
            </dd>
          </>
        )}
        <dt>Source</dt>
        <dd>
          {template.spec.source.database ? (
            <>
              snapshot of database <code>{template.spec.source.database}</code>
            </>
          ) : (
            <code>{template.spec.source.path}</code>
          )}
        </dd>
      </dl>
      {phase === 'Importing' && (
        <div class="import">
          {progress && progress.bytesTotal > 0 ? (
            <>
              <ProgressBar fraction={progress.bytesRead / progress.bytesTotal} label={`Import of ${name}`} />
              <p class="progress-text">
                {Math.floor((progress.bytesRead / progress.bytesTotal) * 100)}% · {bytes(progress.bytesRead)}{' '}
                of {bytes(progress.bytesTotal)}
                {progress.itemsTotal ? ` · ${progress.itemsDone ?? 0}/${progress.itemsTotal} items` : ''}
                {progress.etaSeconds > 0 ? ` · about ${duration(progress.etaSeconds)} left` : ''}
              </p>
            </>
          ) : (
            <p class="progress-text">Starting the import server…</p>
          )}
        </div>
      )}
      {last?.result === 'Failed' && (
        <div class="failure" role="alert">
          Last import failed
          {last.errorLine
            ? ` at ${last.errorFile ? `${last.errorFile}` : 'dump'} line ${last.errorLine}`
            : ''}
          :<pre>{last.error}</pre>
        </div>
      )}
      {phase === 'Failed' && status?.message && last?.result !== 'Failed' && (
        <p class="failure">{status.message}</p>
      )}
      {caller.role === 'admin' && (
        <div class="actions">
          <button type="button" onClick={() => act(`Reimport of ${name} requested`, () => reimport(name))}>
            Reimport
          </button>
        </div>
      )}
    </li>
  );
}
