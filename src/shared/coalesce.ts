// Request coalescing, used by the edge (draws, per isolate) and the origin (renders, per process): concurrent callers
// with the same key share one in-flight promise. The entry lingers until `linger` (e.g. the edge's cache write)
// finishes, so a request arriving between the render and the cache write joins the finished result instead of
// drawing again.
export class Coalescer<T> {
  private inflight = new Map<string, Promise<T>>();

  get size(): number {
    return this.inflight.size;
  }

  /**
   * Run fn for key unless a run for key is in flight; `shared` tells whether this call joined one. When fn throws
   * (synchronously, e.g. to refuse a new run), nothing is recorded and the error reaches the caller.
   */
  run(key: string, fn: () => Promise<T>, linger?: (result: T) => Promise<unknown>): { promise: Promise<T>; shared: boolean } {
    const existing = this.inflight.get(key);
    if (existing) return { promise: existing, shared: true };
    const p = fn();
    this.inflight.set(key, p);
    p.then((r) => (linger ? linger(r) : undefined))
      .catch(() => undefined)
      .finally(() => this.inflight.delete(key));
    return { promise: p, shared: false };
  }
}
