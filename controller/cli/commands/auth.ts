import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { hashToken } from '../../api/auth.js';
import { ApiClient, CliError, tokenFile } from '../api-client.js';
import type { CommandContext } from './common.js';

/** Reads one line from stdin (a token piped in or typed). */
async function readLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split('\n')[0]!.trim();
}

/** `login`, `whoami`, `hash-token`: the caller's side of users and tokens. */
export function registerAuthCommands(program: Command, { client, out }: CommandContext): void {
  program
    .command('login')
    .description('check a token against the controller and keep it for the CLI (mode 0600)')
    .option('--token <token>', 'the token (else read from stdin)')
    .addHelpText('after', '\nExample:\n  echo "$MY_TOKEN" | myaas login\n  myaas get databases')
    .action(async (options: { token?: string }) => {
      const token = options.token ?? (await readLine());
      if (!token) throw new CliError('no token given: pass --token or pipe it in');
      const url = process.env.MYAAS_URL ?? 'http://127.0.0.1:5001';
      const me = await new ApiClient(url, token).call<{ name: string; role: string }>(
        'GET',
        '/api/v1/whoami',
      );
      const file = tokenFile();
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, `${token}\n`, { mode: 0o600 });
      out(`logged in to ${url} as ${me.name} (${me.role}); token kept in ${file}`);
    });

  program
    .command('whoami')
    .description('who the controller takes you for')
    .addHelpText('after', '\nExample:\n  MYAAS_URL=http://db.example.com:5001 myaas whoami')
    .action(async () => {
      const me = await client().call<{ name: string; role: string }>('GET', '/api/v1/whoami');
      out(`${me.name} (${me.role})`);
    });

  program
    .command('hash-token')
    .description('make a token (or take one) and print the line for the users file')
    .argument('[token]', 'an existing token; a new random one when absent')
    .addHelpText('after', '\nExample:\n  myaas hash-token     # prints a new token and its tokenSha256')
    .action(async (given?: string) => {
      const token = given ?? randomBytes(24).toString('base64url');
      if (!given) out(`token:       ${token}   (give it to the user; it is not stored anywhere)`);
      out(`tokenSha256: ${hashToken(token)}`);
    });
}
