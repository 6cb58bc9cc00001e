/** Keeps the last `limit` bytes written. */
export class TailBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  constructor(readonly limit: number) {}
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.limit && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }
  toString(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}
