import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Kind } from './objects/index.js';
import { assertValidName } from './spec/names.js';

/**
 * Paths under the data root. Names are validated before any path is built from them, and every path
 * encodes its owner, so a restarted controller finds what it made by looking:
 *   templates/<name>/<version>       read-only version     templates/<name>/<version>.json  its metadata
 *   databases/<name>                 writable clone        work/<name>@<version>           import in progress
 *   state/<kind>s/<name>.json        status + bookkeeping
 */
export class Layout {
  constructor(readonly root: string) {}

  get templatesDir(): string {
    return path.join(this.root, 'templates');
  }
  get databasesDir(): string {
    return path.join(this.root, 'databases');
  }
  get workDir(): string {
    return path.join(this.root, 'work');
  }
  get stateDir(): string {
    return path.join(this.root, 'state');
  }
  /** Initialised empty datadirs, one per server identity (image id or host server), for fast imports. */
  get cacheDir(): string {
    return path.join(this.root, 'cache');
  }

  initCache(identity: string): string {
    if (!/^[a-z0-9][a-z0-9-]{0,80}$/.test(identity)) throw new Error(`\`${identity}\` is not a cache key`);
    return path.join(this.cacheDir, identity);
  }

  templateDir(name: string): string {
    assertValidName(name, 'template name');
    return path.join(this.templatesDir, name);
  }
  versionDir(name: string, version: string): string {
    assertVersion(version);
    return path.join(this.templateDir(name), version);
  }
  versionMetaFile(name: string, version: string): string {
    return `${this.versionDir(name, version)}.json`;
  }
  databaseDir(name: string): string {
    assertValidName(name, 'database name');
    return path.join(this.databasesDir, name);
  }
  workVolume(name: string, version: string): string {
    assertValidName(name, 'template name');
    assertVersion(version);
    return path.join(this.workDir, `${name}@${version}`);
  }
  statusFile(kind: Kind, name: string): string {
    assertValidName(name, `${kind} name`);
    return path.join(this.stateDir, `${kind.toLowerCase()}s`, `${name}.json`);
  }
}

const VERSION = /^v\d{8}-\d{6}-[0-9a-f]{4}$/;

/** `v20261122-101500-a1b2`: sorts by time, safe in paths, container labels and names. */
export function newVersionId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `v${stamp}-${randomBytes(2).toString('hex')}`;
}

export function isVersionId(value: string): boolean {
  return VERSION.test(value);
}

function assertVersion(version: string): void {
  if (!isVersionId(version)) throw new Error(`\`${version}\` is not a template version id`);
}
