/** Conditions and events: how an object's status says what happened and why (Kubernetes' shape). */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
}

export interface ObjectEvent {
  readonly time: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** Sets a condition, keeping its transition time when its status did not change. */
export function setCondition(
  conditions: readonly Condition[],
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
): Condition[] {
  const old = conditions.find((c) => c.type === type);
  // Unchanged: the same array back, so a resync pass that says again what holds stores no new objects
  // (at 10,000 objects each pass's copies were promoted and then died in the old generation).
  if (old && old.status === status && old.reason === reason && old.message === message)
    return conditions as Condition[];
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : new Date().toISOString();
  return [
    ...conditions.filter((c) => c.type !== type),
    { type, status, reason, message, lastTransitionTime },
  ];
}
