// Origin configuration from command-line flags and ORIGIN_* environment variables (flags win).
// Every option is documented in docs/origin.md.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export type EpChoice = "auto" | "cuda" | "cpu";

export interface OriginConfig {
  host: string;
  port: number;
  /** Resolved model directory (contains manifest.json). */
  modelDir: string;
  token: string;
  ep: EpChoice;
  batchWindowMs: number;
  /** null = by provider (see defaultMaxBatch). */
  maxBatch: number | null;
  maxQueue: number;
  timeoutMs: number;
  lruBytes: number;
  /** ORT intra-op threads for the CPU provider; 0 = ORT's default (all cores). */
  threads: number;
  drainTimeoutMs: number;
  retryAfterS: number;
}

export class ConfigError extends Error {}

/**
 * Batch limit when --max-batch is "auto". On a GPU a batch of 16 costs little more than one face. On CPU a batch
 * costs at least the sum of its items, and the student gets slower per item beyond 2 (its activations fall out of
 * the caches: measured 2.7 ms/face at batch 1 and 2, 4.1 at 4, 7.3 at 16), so batches stay small there.
 */
export function defaultMaxBatch(ep: "cuda" | "cpu"): number {
  return ep === "cuda" ? 16 : 2;
}

interface OptionSpec {
  flag: string;
  env: string;
  def?: string;
}

const OPTIONS = {
  host: { flag: "host", env: "ORIGIN_HOST", def: "0.0.0.0" },
  port: { flag: "port", env: "ORIGIN_PORT", def: "8788" },
  models: { flag: "models", env: "ORIGIN_MODEL_DIR", def: "models" },
  model: { flag: "model", env: "ORIGIN_MODEL" },
  token: { flag: "token", env: "ORIGIN_TOKEN" },
  tokenFile: { flag: "token-file", env: "ORIGIN_TOKEN_FILE" },
  ep: { flag: "ep", env: "ORIGIN_EP", def: "auto" },
  batchWindowMs: { flag: "batch-window-ms", env: "ORIGIN_BATCH_WINDOW_MS", def: "4" },
  maxBatch: { flag: "max-batch", env: "ORIGIN_MAX_BATCH", def: "auto" },
  maxQueue: { flag: "max-queue", env: "ORIGIN_MAX_QUEUE", def: "64" },
  timeoutMs: { flag: "timeout-ms", env: "ORIGIN_TIMEOUT_MS", def: "30000" },
  lruBytes: { flag: "lru-bytes", env: "ORIGIN_LRU_BYTES", def: "64MiB" },
  threads: { flag: "threads", env: "ORIGIN_THREADS", def: "0" },
  drainTimeoutMs: { flag: "drain-timeout-ms", env: "ORIGIN_DRAIN_TIMEOUT_MS", def: "30000" },
  retryAfterS: { flag: "retry-after-s", env: "ORIGIN_RETRY_AFTER_S", def: "1" },
} satisfies Record<string, OptionSpec>;

type Key = keyof typeof OPTIONS;

/** The flags (util.parseArgs: --name value or --name=value, every one a string); a malformed command line is a ConfigError. */
function parseFlags(argv: string[]): Map<string, string> {
  const flags = Object.values(OPTIONS).map((o) => o.flag);
  const options = Object.fromEntries(flags.map((f) => [f, { type: "string" as const }]));
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return new Map(Object.entries(values).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const arg = /'([^']*)'/.exec(e instanceof Error ? e.message : "")?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new ConfigError(`unknown flag ${arg} (known: ${flags.map((k) => "--" + k).join(", ")})`);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") throw new ConfigError(`unexpected argument "${arg}"`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new ConfigError(`${arg.split(" ")[0]} needs a value`);
    throw e;
  }
}

function int(name: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new ConfigError(`${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(`${name} must be in ${min}..${max}, got ${n}`);
  return n;
}

/** "64MiB", "10MB", "1048576". */
export function parseBytes(name: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(v.trim());
  if (!m) throw new ConfigError(`${name} must be a byte count like 67108864 or 64MiB, got "${v}"`);
  const unit = (m[2] ?? "b").toLowerCase();
  const mul: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Math.floor(Number(m[1]) * mul[unit]!);
}

/** A directory holding manifest.json, or a models root with default.json naming one. */
export function resolveModelDir(models: string, modelId?: string): string {
  const root = resolve(models);
  if (!modelId && existsSync(join(root, "manifest.json"))) return root;
  let id = modelId;
  if (!id) {
    const defFile = join(root, "default.json");
    if (!existsSync(defFile)) throw new ConfigError(`${root} has neither manifest.json nor default.json`);
    const def = JSON.parse(readFileSync(defFile, "utf8")) as { default?: unknown };
    if (typeof def.default !== "string" || !/^[\w.-]+$/.test(def.default)) throw new ConfigError(`${defFile}: "default" must name a model id`);
    id = def.default;
  }
  const dir = join(root, id);
  if (!existsSync(join(dir, "manifest.json"))) throw new ConfigError(`model "${id}": ${dir}/manifest.json not found`);
  return dir;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OriginConfig {
  const flags = parseFlags(argv);
  const get = (k: Key): string | undefined => {
    const o: OptionSpec = OPTIONS[k];
    return flags.get(o.flag) ?? (env[o.env] !== undefined && env[o.env] !== "" ? env[o.env] : undefined) ?? o.def;
  };
  let token = get("token");
  const tokenFile = get("tokenFile");
  if (tokenFile) {
    if (!existsSync(tokenFile)) throw new ConfigError(`token file ${tokenFile} not found`);
    token = readFileSync(tokenFile, "utf8").trim();
  }
  if (!token) throw new ConfigError("a bearer token is required: --token-file FILE, --token, ORIGIN_TOKEN_FILE or ORIGIN_TOKEN");
  if (/\s/.test(token)) throw new ConfigError("the token must not contain whitespace");
  const ep = get("ep")!;
  if (ep !== "auto" && ep !== "cuda" && ep !== "cpu") throw new ConfigError(`--ep must be auto, cuda or cpu, got "${ep}"`);
  return {
    host: get("host")!,
    port: int("port", get("port")!, 0, 65535),
    modelDir: resolveModelDir(get("models")!, get("model")),
    token,
    ep,
    batchWindowMs: int("batch-window-ms", get("batchWindowMs")!, 0, 1000),
    maxBatch: get("maxBatch") === "auto" ? null : int("max-batch", get("maxBatch")!, 1, 256),
    maxQueue: int("max-queue", get("maxQueue")!, 1, 100000),
    timeoutMs: int("timeout-ms", get("timeoutMs")!, 1, 3600000),
    lruBytes: parseBytes("lru-bytes", get("lruBytes")!),
    threads: int("threads", get("threads")!, 0, 1024),
    drainTimeoutMs: int("drain-timeout-ms", get("drainTimeoutMs")!, 0, 3600000),
    retryAfterS: int("retry-after-s", get("retryAfterS")!, 1, 3600),
  };
}
