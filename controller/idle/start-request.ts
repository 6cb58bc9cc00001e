import { setCondition } from '../objects/index.js';
import type { StatusStore } from '../state/status-store.js';

/**
 * A start request for a database the idle watch stopped: clears the hold in its record and says so
 * in status, saved before the reconcile that starts it (a restart in between keeps the request).
 * False when it was not stopped for idleness.
 */
export async function clearIdleStop(store: StatusStore, name: string, by: string): Promise<boolean> {
  const key = `Database/${name}` as const;
  const stored = store.get(key);
  if (!stored?.record.idleStopped) return false;
  stored.record.idleStopped = undefined;
  stored.status.message = `starting again (requested by ${by})`;
  stored.status.conditions = setCondition(
    stored.status.conditions,
    'IdleStopped',
    'False',
    'StartRequested',
    `started again on request of ${by}`,
  );
  await store.save(key, stored.status, stored.record);
  await store.event(key, 'Normal', 'StartRequested', `start requested by ${by}`);
  return true;
}
