import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { PoolMember } from '../../controller/objects/index.js';
import type { TestBed } from './testbed.js';

/** The member records of a template's warm pool on disk now (none before the pool's first fill). */
export function poolMembers(bed: TestBed, template: string): PoolMember[] {
  // A record (`<id>.json`) and a clone (`<id>`) per member.
  const dir = path.join(bed.dataDir, 'pool', template);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((e) => e.endsWith('.json'))
        .map((e) => JSON.parse(readFileSync(path.join(dir, e), 'utf8')) as PoolMember)
    : [];
}
