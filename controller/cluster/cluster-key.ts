import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * The cluster key: one secret the controller and every node agent read (the chart mounts one Secret into
 * both). Each template's admin password is derived from it, so the controller can log in to a clone an
 * agent made on another node without any password crossing the API (no Secret the agents must read).
 */

const MIN_KEY_LENGTH = 32;

export function templateAdminPassword(clusterKey: string, template: string): string {
  return createHmac('sha256', clusterKey).update(`myaas template admin\0${template}`).digest('base64url');
}

/** Reads the key file; a short or missing key is an error naming the file and the fix. */
export async function readClusterKey(file: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new Error(
      `--cluster-key-file ${file}: ${(error as Error).message}; it must name the file holding the cluster key (the chart mounts Secret <release>-cluster-key there)`,
    );
  }
  if (text.length < MIN_KEY_LENGTH)
    throw new Error(
      `--cluster-key-file ${file}: the key is ${text.length} characters, at least ${MIN_KEY_LENGTH} are needed (e.g. \`openssl rand -base64 48\`)`,
    );
  return text;
}
