import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  type Caller,
  type Database,
  type Held,
  type Info,
  type Problem,
  type Template,
  type TrashItem,
  api,
  session,
  watch,
} from './api.js';
import { DatabasesPage } from './databases.js';
import { ProblemsPage, TrashPage } from './problems.js';
import { TemplatesPage } from './templates.js';
import { ConfirmDialog, type Confirmation } from './widgets.js';
import './style.css';

const PAGES = ['databases', 'templates', 'problems', 'trash'] as const;
type Page = (typeof PAGES)[number];

const pageOf = (hash: string): Page => {
  const page = hash.replace(/^#\/?/, '') as Page;
  return PAGES.includes(page) ? page : 'databases';
};

function Login({ onLogin, error }: { onLogin: (token: string) => Promise<void>; error?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <h1>myaas</h1>
      <p>Disposable MySQL, MariaDB and PostgreSQL databases.</p>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          await onLogin(token.trim());
          setBusy(false);
        }}
      >
        <label>
          Token
          <input
            type="password"
            name="token"
            value={token}
            autocomplete="current-password"
            required
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          Log in
        </button>
        {error && (
          <p class="failure" role="alert">
            {error}
          </p>
        )}
        <p class="hint">
          Your administrator gives you a token (<code>myaas hash-token</code> makes one). It stays in this tab
          only.
        </p>
      </form>
    </main>
  );
}

interface Data {
  templates: Template[];
  databases: Database[];
  problems: Problem[];
  held: Held;
  trash: TrashItem[];
}
const EMPTY: Data = {
  templates: [],
  databases: [],
  problems: [],
  held: { databases: [], templates: [] },
  trash: [],
};

function App() {
  const [info, setInfo] = useState<Info | undefined>();
  const [caller, setCaller] = useState<Caller | undefined>();
  const [loginError, setLoginError] = useState<string | undefined>();
  const [data, setData] = useState<Data>(EMPTY);
  const [page, setPage] = useState<Page>(pageOf(location.hash));
  const [now, setNow] = useState(Date.now());
  const [live, setLive] = useState(false);
  const [notice, setNotice] = useState<{ text: string; error?: boolean } | undefined>();
  const [ask, setAsk] = useState<Confirmation | undefined>();

  const logOut = useCallback((why?: string) => {
    session.clear();
    setCaller(undefined);
    setData(EMPTY);
    setLoginError(why);
  }, []);

  /** Reads what changed; a 401 means the token stopped working (removed from the users file). */
  const refresh = useCallback(
    async (kinds: string[] | 'all') => {
      const all = kinds === 'all';
      const wants = (kind: string) => all || kinds.includes(kind);
      try {
        const [templates, databases, problems, held, trash] = await Promise.all([
          wants('Template') ? api.templates() : undefined,
          wants('Database') ? api.databases() : undefined,
          api.problems(),
          api.held(),
          wants('Database') || wants('Template') ? api.trash() : undefined,
        ]);
        setData((d) => ({
          templates: templates ?? d.templates,
          databases: databases ?? d.databases,
          problems,
          held,
          trash: trash ?? d.trash,
        }));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401)
          logOut('Your token is no longer accepted: log in again.');
      }
    },
    [logOut],
  );

  useEffect(() => {
    const onHash = () => setPage(pageOf(location.hash));
    addEventListener('hashchange', onHash);
    const tick = setInterval(() => setNow(Date.now()), 1000);
    (async () => {
      try {
        const found = await api.info();
        setInfo(found);
        // Without users (the local single-user mode) there is nothing to log in with.
        if (!found.auth || session.token()) setCaller(await api.whoami());
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) logOut();
        else setLoginError(`The controller does not answer: ${(error as Error).message}`);
      }
    })();
    return () => {
      removeEventListener('hashchange', onHash);
      clearInterval(tick);
    };
  }, [logOut]);

  useEffect(() => {
    if (!caller) return;
    return watch((kinds) => void refresh(kinds), setLive);
  }, [caller, refresh]);

  const login = async (token: string) => {
    try {
      const who = await api.whoami(token);
      session.set(token);
      setLoginError(undefined);
      setCaller(who);
    } catch (error) {
      setLoginError(
        error instanceof ApiError && error.status === 401
          ? 'That token is not accepted here: check it with whoever runs this controller.'
          : `Cannot log in: ${(error as Error).message}`,
      );
    }
  };

  const act = useCallback(
    async (what: string, run: () => Promise<unknown>) => {
      try {
        await run();
        if (what) setNotice({ text: what });
        await refresh('all');
      } catch (error) {
        setNotice({ text: (error as Error).message, error: true });
        if (error instanceof ApiError && error.status === 401)
          logOut('Your token is no longer accepted: log in again.');
      }
    },
    [refresh, logOut],
  );

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(undefined), notice.error ? 10_000 : 4000);
    return () => clearTimeout(timer);
  }, [notice]);

  if (!caller)
    return info?.auth === false && !loginError ? (
      <main class="login">Loading…</main>
    ) : (
      <Login onLogin={login} error={loginError} />
    );

  const problemCount = data.problems.length + data.held.databases.length + data.held.templates.length;
  const trashDays = (info?.trashRetentionSeconds ?? 0) / 86_400;
  const tabs: [Page, string][] = [
    ['databases', 'Databases'],
    ['templates', 'Templates'],
    ['problems', problemCount ? `Problems (${problemCount})` : 'Problems'],
    ['trash', 'Trash'],
  ];
  return (
    <>
      <header>
        <a class="brand" href="#/databases">
          myaas
        </a>
        <nav aria-label="Pages">
          {tabs.map(([id, label]) => (
            <a
              key={id}
              href={`#/${id}`}
              aria-current={page === id ? 'page' : undefined}
              class={id === 'problems' && problemCount ? 'alert' : ''}
            >
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          <span
            class={live ? 'live on' : 'live'}
            title={live ? 'live updates on' : 'reconnecting'}
            aria-label={live ? 'live' : 'reconnecting'}
          />
          {caller.name} <span class="muted">({caller.role})</span>
          {info?.auth && (
            <button type="button" class="small" onClick={() => logOut()}>
              Log out
            </button>
          )}
        </span>
      </header>
      <main>
        {page === 'databases' && (
          <DatabasesPage
            databases={data.databases}
            templates={data.templates}
            caller={caller}
            now={now}
            trashDays={trashDays}
            act={act}
            confirm={setAsk}
          />
        )}
        {page === 'templates' && (
          <TemplatesPage
            templates={data.templates}
            caller={caller}
            now={now}
            act={act}
            reimport={api.reimport}
          />
        )}
        {page === 'problems' && (
          <ProblemsPage
            problems={data.problems}
            held={data.held}
            caller={caller}
            act={act}
            confirmDeletions={api.confirmDeletions}
          />
        )}
        {page === 'trash' && (
          <TrashPage items={data.trash} caller={caller} now={now} act={act} restore={api.restore} />
        )}
      </main>
      <div
        class={notice?.error ? 'notice error' : 'notice'}
        role={notice?.error ? 'alert' : 'status'}
        aria-live="polite"
      >
        {notice?.text}
      </div>
      <ConfirmDialog ask={ask} onClose={() => setAsk(undefined)} />
    </>
  );
}

render(<App />, document.getElementById('app')!);
