// Bounded in-memory LRU of rendered PNGs, bounded by total bytes rather than entry count: lru-cache with a size
// per entry, plus the hit/miss counters /v1/healthz reports. An entry larger than the bound is not stored.
import { LRUCache } from "lru-cache";

export class ByteLru {
  /** null when the bound is 0 (--lru-bytes 0: no LRU); lru-cache needs a positive maxSize. */
  private readonly cache: LRUCache<string, Uint8Array> | null;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {
    // lru-cache wants sizes of at least 1; an empty entry counts as one byte.
    this.cache = maxBytes > 0 ? new LRUCache({ maxSize: maxBytes, sizeCalculation: (v) => Math.max(1, v.byteLength) }) : null;
  }

  get(key: string): Uint8Array | undefined {
    const v = this.cache?.get(key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(key: string, value: Uint8Array): void {
    this.cache?.set(key, value);
  }

  get bytes(): number {
    return this.cache?.calculatedSize ?? 0;
  }

  get size(): number {
    return this.cache?.size ?? 0;
  }
}
