import type { EngineName } from '../objects/index.js';
import type { Engine } from './engine.js';
import { MariadbEngine } from './mariadb-engine.js';
import { PostgresEngine } from './postgres-engine.js';

/** The engine of a template that names none. */
export const DEFAULT_ENGINE: EngineName = 'mariadb';

const engines = new Map<EngineName, Engine>();

/** The engine module for a spec's engine name (one instance each: it caches what it found on the host). */
export function engineFor(name: EngineName): Engine {
  let engine = engines.get(name);
  if (!engine) {
    engine = name === 'postgres' ? new PostgresEngine() : new MariadbEngine(name);
    engines.set(name, engine);
  }
  return engine;
}
