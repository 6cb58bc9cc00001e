import { readdir, rm, unlink } from 'node:fs/promises';
import { type Layout, isMemberId } from '../layout.js';
import type { PoolMember } from '../objects/index.js';
import { readJson, writeJsonAtomic } from '../util/files.js';

/**
 * The warm pools' member records (`pool/<template>/<id>.json`), and which members are taken right now
 * by a claim or a removal in this process: a member is claimed by one database, or removed, never both.
 */
export class PoolMembers {
  readonly #layout: Layout;
  /** `<template>/<id>` of members a claim or a removal holds. */
  readonly #busy = new Set<string>();
  /**
   * Each template's records, read from disk once, then kept by save and forget (this process is their
   * only writer): a claim and a pool pass read memory, not the pool folder.
   */
  readonly #records = new Map<string, Promise<Map<string, PoolMember>>>();

  constructor(layout: Layout) {
    this.#layout = layout;
  }

  /** Templates that have a pool folder. */
  async templates(): Promise<string[]> {
    return readdir(this.#layout.poolsDir).catch(() => [] as string[]);
  }

  /** The members of a template's pool whose record reads, oldest first. */
  async list(template: string): Promise<PoolMember[]> {
    const records = await this.#recordsOf(template);
    return [...records.values()].map((m) => ({ ...m })).sort((a, b) => a.createdAt - b.createdAt);
  }

  #recordsOf(template: string): Promise<Map<string, PoolMember>> {
    let records = this.#records.get(template);
    if (!records) {
      records = this.#read(template);
      this.#records.set(template, records);
    }
    return records;
  }

  async #read(template: string): Promise<Map<string, PoolMember>> {
    const entries = await readdir(this.#layout.poolDir(template)).catch(() => [] as string[]);
    const members = new Map<string, PoolMember>();
    for (const entry of entries) {
      const id = entry.replace(/\.json$/, '');
      if (id === entry || !isMemberId(id)) continue;
      const member = await readJson<PoolMember>(this.#layout.poolMemberRecord(template, id)).catch(
        () => undefined,
      );
      if (member) members.set(member.id, member);
    }
    return members;
  }

  /**
   * Member ids whose clone folder exists without a record (a crash before the record, or after its
   * removal), and whether it is only the link a claim leaves to the moved clone (see linkMovedClone).
   */
  async strays(template: string): Promise<{ id: string; link: boolean }[]> {
    const entries = await readdir(this.#layout.poolDir(template), { withFileTypes: true }).catch(() => []);
    const recorded = new Set(entries.filter((e) => e.name.endsWith('.json')).map((e) => e.name.slice(0, -5)));
    return entries
      .filter((e) => isMemberId(e.name) && !recorded.has(e.name))
      .map((e) => ({ id: e.name, link: e.isSymbolicLink() }));
  }

  /** Removes a claim's link (never what it points to). */
  async unlink(template: string, id: string): Promise<void> {
    await unlink(this.#layout.poolMemberDir(template, id)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** Writes the record; what `list` answers changes once it is written (a copy: later edits are not in). */
  async save(member: PoolMember): Promise<void> {
    const saved = { ...member };
    const records = await this.#recordsOf(member.template);
    await writeJsonAtomic(this.#layout.poolMemberRecord(member.template, member.id), saved);
    records.set(saved.id, saved);
  }

  /** Removes the record only: the member no longer exists (its clone moved, or is removed). */
  async forget(template: string, id: string): Promise<void> {
    const records = await this.#recordsOf(template);
    await rm(this.#layout.poolMemberRecord(template, id), { force: true });
    records.delete(id);
  }

  /**
   * Takes a ready member of `version` for a claim, if one is free: held until `release`. Synchronous
   * after the listing, so two claims never take the same member.
   */
  async take(template: string, version: string): Promise<PoolMember | undefined> {
    const members = await this.list(template);
    const member = members.find(
      (m) => m.ready && m.version === version && m.server && !this.#busy.has(`${template}/${m.id}`),
    );
    if (member) this.#busy.add(`${template}/${member.id}`);
    return member;
  }

  /** Holds a member for a removal; false when a claim (or another removal) holds it. */
  hold(template: string, id: string): boolean {
    const key = `${template}/${id}`;
    if (this.#busy.has(key)) return false;
    this.#busy.add(key);
    return true;
  }

  release(template: string, id: string): void {
    this.#busy.delete(`${template}/${id}`);
  }

  isHeld(template: string, id: string): boolean {
    return this.#busy.has(`${template}/${id}`);
  }
}
