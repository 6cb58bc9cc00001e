import { execFile } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `\`${argv.join(' ')}\` failed (exit ${exitCode}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** Runs a program with arguments (never through a shell) and returns its stdout. */
export function run(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const code = typeof error.code === 'number' ? error.code : null;
          if (error.code === 'ENOENT') reject(new Error(`\`${file}\` is not installed or not on PATH`));
          else reject(new CommandError([file, ...args], code, stderr || error.message));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}
