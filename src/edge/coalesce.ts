// Request coalescing: concurrent callers with the same key share one in-flight promise (per isolate). The entry
// lingers until `linger` (e.g. the cache write) finishes, so a request arriving between the render and the cache
// write joins the finished result instead of drawing again.
export class Coalescer<T> {
  private inflight = new Map<string, Promise<T>>();

  get size(): number {
    return this.inflight.size;
  }

  /** Run fn for key unless a run for key is in flight; `shared` tells whether this call joined one. */
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
