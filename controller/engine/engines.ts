import type { EngineName } from '../objects/index.js';
import { DEFAULT_ENGINE } from './defaults.js';
import type { Engine } from './engine.js';
import { MariadbEngine } from './mariadb/index.js';
import { PostgresEngine } from './postgres/index.js';

const MAKERS: Record<EngineName, (name: EngineName) => Engine> = {
  mariadb: (name) => new MariadbEngine(name),
  mysql: (name) => new MariadbEngine(name),
  postgres: () => new PostgresEngine(),
};

const engines = new Map<EngineName, Engine>();

/** The engine for a spec's engine name (one instance each: it caches what it found on the host). */
export function engineFor(name: EngineName = DEFAULT_ENGINE): Engine {
  let engine = engines.get(name);
  if (!engine) {
    engine = MAKERS[name](name);
    engines.set(name, engine);
  }
  return engine;
}

export { DEFAULT_ENGINE, type DefaultImages, defaultImage } from './defaults.js';
