import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Kind } from './objects/index.js';
import { assertValidName } from './spec/names.js';

/**
 * Paths under the data root. Names are validated before any path is built from them, and every path
 * encodes its owner, so a restarted controller finds what it made by looking:
 *   templates/<name>/<version>       read-only version     templates/<name>/<version>.json  its metadata
 *                                                          templates/<name>/<version>.schema.json  its schema
 *   databases/<name>                 writable clone        work/<name>@<version>           import in progress
 *   branches/<name>                  a branch's branch point (read-only): what its reset goes back to
 *   pool/<template>/<id>             a warm pool member's clone   pool/<template>/<id>.json  its record
 *   state/<kind>s/<name>.json        status + bookkeeping
 *   trash/<kind>s/<name>@<stamp>/    a removed database's clone, or a removed template's versions,
 *   trash/<kind>s/<name>@<stamp>.json   restorable until the entry's retention ends
 */
/** What a version's recorded schema is named: `<version>.schema.json` beside it. */
export const SCHEMA_SUFFIX = '.schema.json';

export class Layout {
  constructor(readonly root: string) {}

  get templatesDir(): string {
    return path.join(this.root, 'templates');
  }
  get databasesDir(): string {
    return path.join(this.root, 'databases');
  }
  /**
   * A node agent's clones (Kubernetes mode): the database Pods' hostPath. Apart from databasesDir, so
   * the agent's own template controller never takes them for databases of its own.
   */
  get clonesDir(): string {
    return path.join(this.root, 'clones');
  }
  cloneDir(name: string): string {
    assertValidName(name, 'database name');
    return path.join(this.clonesDir, name);
  }
  get workDir(): string {
    return path.join(this.root, 'work');
  }
  get branchesDir(): string {
    return path.join(this.root, 'branches');
  }
  /** A branch's copy of its source at the branch point (read-only; its resets clone it again). */
  branchPointDir(name: string): string {
    assertValidName(name, 'database name');
    return path.join(this.branchesDir, name);
  }
  /** Where a branch point is copied to before it is sealed (never a valid name: never taken for one). */
  branchPointPartial(name: string): string {
    return `${this.branchPointDir(name)}.partial`;
  }
  get poolsDir(): string {
    return path.join(this.root, 'pool');
  }
  /** A template's warm pool: its members' clones, each with its record beside it. */
  poolDir(template: string): string {
    assertValidName(template, 'template name');
    return path.join(this.poolsDir, template);
  }
  poolMemberDir(template: string, id: string): string {
    assertMemberId(id);
    return path.join(this.poolDir(template), id);
  }
  /** A member's record: a member without one does not exist (its clone and server are leftovers). */
  poolMemberRecord(template: string, id: string): string {
    return `${this.poolMemberDir(template, id)}.json`;
  }
  get stateDir(): string {
    return path.join(this.root, 'state');
  }
  get trashDir(): string {
    return path.join(this.root, 'trash');
  }
  /** The trash folder of a kind: `trash/databases`, `trash/templates`. */
  trashKindDir(kind: Kind): string {
    return path.join(this.trashDir, `${kind.toLowerCase()}s`);
  }
  /** A trash entry's folder (its `.json` beside it); ids are `<name>@<stamp>`. */
  trashEntry(kind: Kind, id: string): string {
    assertTrashId(id);
    return path.join(this.trashKindDir(kind), id);
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
  /** The version's schema as read at its import (what `myaas diff` compares a clone with). */
  versionSchemaFile(name: string, version: string): string {
    return `${this.versionDir(name, version)}${SCHEMA_SUFFIX}`;
  }
  databaseDir(name: string): string {
    assertValidName(name, 'database name');
    return path.join(this.databasesDir, name);
  }
  /** A copy of a database's record beside its clone: what a lost or corrupt state file is rebuilt from. */
  databaseRecordCopy(name: string): string {
    return `${this.databaseDir(name)}.record.json`;
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
const TRASH_ID = /^([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)@(\d{8}-\d{6}-\d{3}-[0-9a-f]{4})$/;

/** `<name>@20261205-081900-123-a1b2`: sorts by time within a name, safe in paths. */
export function newTrashId(name: string, now = new Date()): string {
  assertValidName(name, 'name');
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').replace('.', '-').slice(0, 19);
  return `${name}@${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The name part of a trash id, or undefined when it is not one. */
export function trashIdName(id: string): string | undefined {
  return TRASH_ID.exec(id)?.[1];
}

/** A pool member's id: 8 hex digits, unique within its template. */
export function newMemberId(): string {
  return randomBytes(4).toString('hex');
}

export function isMemberId(value: string): boolean {
  return /^[0-9a-f]{8}$/.test(value);
}

function assertMemberId(id: string): void {
  if (!isMemberId(id)) throw new Error(`\`${id}\` is not a pool member id`);
}

function assertTrashId(id: string): void {
  if (!TRASH_ID.test(id)) throw new Error(`\`${id}\` is not a trash entry id`);
}

/**
 * `v20261122-101500-a1b2`: safe in paths, container labels and names, and ordered as a sequence: a
 * new id always sorts after every id in `after` (the template's versions so far), even when the wall
 * clock stepped back since they were made (it then continues one second after the newest).
 */
export function newVersionId(now = new Date(), after: readonly string[] = []): string {
  let stamp = stampOf(now);
  const newest = after
    .filter(isVersionId)
    .map((id) => id.slice(1, 16))
    .sort()
    .at(-1);
  if (newest && stamp <= newest) stamp = stampOf(new Date(parseStamp(newest) + 1000));
  return `v${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Orders version ids as made: by their sequence stamp, then the rest. */
export function compareVersionIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stampOf(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** `20261122-101500` back to epoch ms (UTC). */
function parseStamp(stamp: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/.exec(stamp)!;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * The template version a work dir entry belongs to: `<name>@<version>` (an import's work volume) or
 * `<name>@<version>.partial-<hex>` (a copy of one being made); undefined for anything else.
 */
export function workEntryVersion(entry: string, name: string): string | undefined {
  if (!entry.startsWith(`${name}@`)) return undefined;
  const version = entry.slice(name.length + 1).replace(/\.partial-[0-9a-f]+$/, '');
  return isVersionId(version) ? version : undefined;
}

export function isVersionId(value: string): boolean {
  return VERSION.test(value);
}

function assertVersion(version: string): void {
  if (!isVersionId(version)) throw new Error(`\`${version}\` is not a template version id`);
}
