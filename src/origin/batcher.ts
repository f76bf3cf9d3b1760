// Micro-batcher with a bounded queue. Requests for the same lane (one per network and output) that arrive within
// `windowMs` of the first waiting one run as one batch of at most `maxBatch` items. Batches run one at a time:
// a batch already uses every core (CPU) or the whole device (GPU), so overlapping them only adds contention.

export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`render queue is full (${limit} waiting)`);
  }
}

export class RenderTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`render did not finish within ${ms} ms`);
  }
}

export interface BatchInfo {
  /** Items in the batch this request ran in. */
  batchSize: number;
  /** Milliseconds the request waited before its batch started. */
  waitedMs: number;
  /** Milliseconds the batch function took. */
  runMs: number;
}

export interface BatcherOptions<I, O> {
  windowMs: number;
  maxBatch: number;
  /** Most requests waiting or running at once, over all lanes; more are refused with QueueFullError. */
  maxQueue: number;
  run: (lane: string, items: I[]) => Promise<O[]>;
}

interface Pending<I, O> {
  item: I;
  lane: string;
  enqueuedAt: number;
  settled: boolean;
  resolve: (v: { value: O; info: BatchInfo }) => void;
  reject: (e: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export class MicroBatcher<I, O> {
  private readonly lanes = new Map<string, Pending<I, O>[]>();
  private windowTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private flushing = false;
  private inSystem = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: BatcherOptions<I, O>) {}

  /** Requests waiting or running. */
  get load(): number {
    return this.inSystem;
  }

  submit(lane: string, item: I, timeoutMs: number): Promise<{ value: O; info: BatchInfo }> {
    if (this.inSystem >= this.opts.maxQueue) return Promise.reject(new QueueFullError(this.opts.maxQueue));
    return new Promise((resolve, reject) => {
      const p: Pending<I, O> = { item, lane, enqueuedAt: performance.now(), settled: false, resolve, reject };
      this.inSystem++;
      p.timer = setTimeout(() => this.settle(p, () => reject(new RenderTimeoutError(timeoutMs))), timeoutMs);
      const q = this.lanes.get(lane) ?? [];
      q.push(p);
      this.lanes.set(lane, q);
      this.schedule(q.length >= this.opts.maxBatch);
    });
  }

  /**
   * Stops waiting for batch windows (everything queued runs now) and resolves when nothing is waiting or running.
   * New work is still accepted: a request admitted before shutdown makes several calls in sequence
   * (mapping, then synthesis); refusing new work is the HTTP layer's job.
   */
  drain(): Promise<void> {
    this.flushing = true;
    if (this.windowTimer) {
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
    }
    this.schedule(true);
    if (this.inSystem === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private settle(p: Pending<I, O>, fn: () => void): void {
    if (p.settled) return;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    this.inSystem--;
    fn();
    if (this.inSystem === 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private schedule(now: boolean): void {
    if (this.running) return;
    if (now || this.flushing) {
      if (this.windowTimer) clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
      queueMicrotask(() => void this.runNext());
    } else if (!this.windowTimer) {
      this.windowTimer = setTimeout(() => {
        this.windowTimer = undefined;
        void this.runNext();
      }, this.opts.windowMs);
    }
  }

  /** The lane whose oldest live request has waited longest. */
  private pickLane(): string | undefined {
    let best: string | undefined;
    let bestT = Infinity;
    for (const [lane, q] of this.lanes) {
      while (q.length && q[0]!.settled) q.shift();
      if (q.length && q[0]!.enqueuedAt < bestT) {
        bestT = q[0]!.enqueuedAt;
        best = lane;
      }
    }
    return best;
  }

  private async runNext(): Promise<void> {
    if (this.running) return;
    const lane = this.pickLane();
    if (lane === undefined) return;
    const q = this.lanes.get(lane)!;
    const batch: Pending<I, O>[] = [];
    while (q.length && batch.length < this.opts.maxBatch) {
      const p = q.shift()!;
      if (!p.settled) batch.push(p);
    }
    if (!batch.length) return;
    this.running = true;
    const start = performance.now();
    try {
      const out = await this.opts.run(lane, batch.map((p) => p.item));
      const runMs = performance.now() - start;
      batch.forEach((p, i) => {
        const info = { batchSize: batch.length, waitedMs: start - p.enqueuedAt, runMs };
        this.settle(p, () => p.resolve({ value: out[i]!, info }));
      });
    } catch (e) {
      for (const p of batch) this.settle(p, () => p.reject(e));
    } finally {
      this.running = false;
    }
    // Anything still waiting has already waited at least one window: run it now.
    if (this.pickLane() !== undefined) this.schedule(true);
  }
}
