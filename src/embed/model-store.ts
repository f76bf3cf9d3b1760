// The browser's copy of the model: files fetched once and kept in Cache Storage, keyed by their versioned URL
// (embed/models/<id>/<version>-<manifest hash>/<file>, so an entry never goes stale; entries of other model
// versions are dropped) and checked against the SHA-256 that embed/models.json lists, on download and on every
// read from the cache. One download per file even when several workers of a page (or several tabs) ask at once:
// the fetch-and-store runs under a Web Lock named by the URL. Works in a worker and on the main thread.
export const CACHE_NAME = "seedface-models";

export interface BrowserModelIndex {
  default: string | null;
  version?: string;
  resolution?: number;
  /** Largest size the edge draws itself (the manifest's serving.edge_max_size, else the resolution). */
  max_size?: number;
  /** Absolute path of the versioned model directory, ending in "/". */
  path?: string;
  /** File name -> its SHA-256 (hex; builds before the full hash listed its first 16 hex digits). */
  files?: Record<string, string>;
}

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === "undefined" ? null : await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. an insecure context, or storage disabled
  }
}

async function sha256Hex(buf: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether `buf` has the hash `want` (a full hex SHA-256, or a prefix of one of at least 16 digits). */
async function matches(buf: ArrayBuffer, want: string): Promise<boolean> {
  return want.length >= 16 && (await sha256Hex(buf)).startsWith(want.toLowerCase());
}

type Locks = { request(name: string, cb: () => Promise<unknown>): Promise<unknown> };
function withLock<T>(name: string, cb: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as { locks?: Locks } | undefined)?.locks;
  return locks ? (locks.request(name, cb) as Promise<T>) : cb();
}

export class ModelStore {
  private constructor(private readonly cache: Cache | null, readonly dir: string, readonly index: BrowserModelIndex) {}

  /** Reads /embed/models.json under `base`; throws when the deployment ships no browser model. */
  static async open(base: string): Promise<ModelStore> {
    const res = await fetch(new URL("embed/models.json", base), { cache: "no-cache" });
    if (!res.ok) throw new Error(`embed/models.json: HTTP ${res.status}`);
    const index = (await res.json()) as BrowserModelIndex;
    if (!index.default || !index.path) throw new Error("this deployment ships no browser model");
    const dir = new URL(index.path, base).href;
    const cache = await openCache();
    if (cache) {
      for (const req of await cache.keys()) if (!req.url.startsWith(dir)) await cache.delete(req);
    }
    return new ModelStore(cache, dir, index);
  }

  has(file: string): boolean {
    return this.index.files?.[file] !== undefined;
  }

  private async cached(url: string, want: string | undefined): Promise<ArrayBuffer | null> {
    const hit = await this.cache?.match(url);
    if (!hit) return null;
    const buf = await hit.arrayBuffer();
    if (!want || (await matches(buf, want))) return buf;
    await this.cache!.delete(url); // corrupted or truncated: fetch it again
    return null;
  }

  /** File bytes from Cache Storage, else the network (then cached); checked against the index's hash. */
  async bytes(file: string): Promise<ArrayBuffer> {
    const url = new URL(file, this.dir).href;
    const want = this.index.files?.[file];
    const quick = await this.cached(url, want);
    if (quick) return quick;
    return withLock(`seedface-model ${url}`, async () => {
      // Another worker or tab may have stored it while this one waited for the lock.
      const again = await this.cached(url, want);
      if (again) return again;
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
      const buf = await res.arrayBuffer();
      if (want && !(await matches(buf, want))) throw new Error(`${file}: content does not match the SHA-256 in models.json`);
      try {
        await this.cache?.put(url, new Response(buf.slice(0), { headers: { "content-type": res.headers.get("content-type") ?? "" } }));
      } catch {
        // Quota or storage errors only cost a re-download next visit.
      }
      return buf;
    });
  }
}
