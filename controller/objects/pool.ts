import type { CloneMethod } from './database.js';
import type { EngineName } from './meta.js';

/**
 * A warm pool member: a clone of a template version with a running server, kept in reserve until a
 * Database claims it. Its record lives beside its clone (`pool/<template>/<id>.json`); it is written
 * before the clone is made, and says `ready` only once the server takes logins with the member's own
 * throwaway credentials.
 */
export interface PoolMember {
  readonly id: string;
  readonly template: string;
  readonly version: string;
  readonly engine: EngineName;
  readonly image: string;
  readonly database: string;
  /** The member's own admin password (replaced by the claiming database's at its first login). */
  readonly adminPassword: string;
  /** Epoch ms the member was started on. */
  readonly createdAt: number;
  /** The server's id, once created. */
  server?: string;
  port?: number;
  cloneMethod?: CloneMethod;
  ready: boolean;
}

/** The server owner of a pool member: `<template>.<id>` (never a valid object name). */
export function memberOwner(template: string, id: string): string {
  return `${template}.${id}`;
}

/** The template and member id a Pool server's owner names, if it names one. */
export function parseMemberOwner(owner: string): { template: string; id: string } | undefined {
  const match = /^([a-z0-9-]+)\.([0-9a-f]{8})$/.exec(owner);
  return match ? { template: match[1]!, id: match[2]! } : undefined;
}
