/**
 * A dump the import refuses because it would run commands (or could, as far as the check can tell)
 * where the engine's client runs: a failed import whose message says why, and where when it knows.
 */
export class UnsafeDumpError extends Error {
  constructor(
    message: string,
    /** The dump line, when the check knows it. */
    readonly line?: number,
  ) {
    super(message);
  }
}

/** How every refusal of a dump's command begins. */
export const MAY_NOT_RUN_COMMANDS = 'a dump may not run commands';
