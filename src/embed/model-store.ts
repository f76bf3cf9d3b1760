// The browser's copy of the model: files fetched once and kept in Cache Storage (versioned URLs, so an entry never
// goes stale; entries of other model versions are dropped). Works in a worker and on the main thread.
const CACHE_NAME = "seedface-models";

export interface BrowserModelIndex {
  default: string | null;
  version?: string;
  resolution?: number;
  /** Absolute path of the versioned model directory, ending in "/". */
  path?: string;
  /** File name -> first 16 hex digits of its SHA-256. */
  files?: Record<string, string>;
}

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === "undefined" ? null : await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. an insecure context, or storage disabled
  }
}

async function sha16(buf: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ModelStore {
  private constructor(private readonly cache: Cache | null, readonly dir: string, private readonly index: BrowserModelIndex) {}

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

  /** File bytes from Cache Storage, else the network (then cached); checked against the index's hash. */
  async bytes(file: string): Promise<ArrayBuffer> {
    const url = new URL(file, this.dir).href;
    const want = this.index.files?.[file];
    const cached = await this.cache?.match(url);
    if (cached) {
      const buf = await cached.arrayBuffer();
      if (!want || (await sha16(buf)) === want) return buf;
      await this.cache!.delete(url);
    }
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
    const buf = await res.arrayBuffer();
    if (want && (await sha16(buf)) !== want) throw new Error(`${file}: content does not match models.json`);
    try {
      await this.cache?.put(url, new Response(buf.slice(0), { headers: { "content-type": res.headers.get("content-type") ?? "" } }));
    } catch {
      // Quota or storage errors only cost a re-download next visit.
    }
    return buf;
  }
}
