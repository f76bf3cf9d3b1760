// Command-line flags of the benchmarks (--name value or --name=value; switches as --name), parsed by util.parseArgs.
// Strict: an unknown flag, a flag without its value or an extra positional argument prints what is wrong, the
// command's usage and its flags, and exits with status 2.
import { basename } from "node:path";
import { parseArgs } from "node:util";

export interface FlagSpec<S extends string, B extends string> {
  /** Flags that take a value. */
  strings?: readonly S[];
  /** Switches: true when given. */
  booleans?: readonly B[];
  /** How many positional arguments the command takes at most (default none). */
  positionals?: number;
  /** The command line shown with an error, e.g. "npm run bench:embed [-- --runs 5]". */
  usage?: string;
}

export interface Flags<S extends string, B extends string> {
  /** The value flags given (an empty value counts as not given), and every switch. */
  values: Partial<Record<S, string>> & Record<B, boolean>;
  positionals: string[];
}

/** Thrown (and, from parseFlags, reported with exit status 2) for a command line the spec does not allow. */
export class FlagError extends Error {
  override name = "FlagError";
}

function check<S extends string, B extends string>(spec: FlagSpec<S, B>, args: string[]): Flags<S, B> {
  const strings = spec.strings ?? [];
  const booleans = spec.booleans ?? [];
  const options = Object.fromEntries([
    ...strings.map((n) => [n, { type: "string" as const }]),
    ...booleans.map((n) => [n, { type: "boolean" as const }]),
  ]);
  const known = [...strings.map((n) => `--${n} VALUE`), ...booleans.map((n) => `--${n}`)];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const flag = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'([^']+)'/.exec(err.message)?.[1] : undefined;
    const what = flag ? `unknown flag ${flag}` : err.message;
    throw new FlagError(`${what} (${known.length ? `flags: ${known.join(", ")}` : "it takes no flags"})`);
  }
  const max = spec.positionals ?? 0;
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals.slice(max).map((p) => JSON.stringify(p)).join(" ");
    throw new FlagError(`unexpected argument ${extra} (${max ? `at most ${max} positional argument(s)` : "it takes no positional arguments"})`);
  }
  const values: Record<string, string | boolean> = {};
  for (const n of strings) {
    const v = parsed.values[n];
    if (typeof v === "string" && v !== "") values[n] = v;
  }
  for (const n of booleans) values[n] = parsed.values[n] === true;
  return { values: values as Flags<S, B>["values"], positionals: parsed.positionals };
}

/**
 * The command line against `spec`; on an error, prints it with the usage to stderr and exits with status 2.
 * (`args` defaults to the process's arguments.)
 */
export function parseFlags<S extends string = never, B extends string = never>(spec: FlagSpec<S, B>, args = process.argv.slice(2)): Flags<S, B> {
  try {
    return check(spec, args);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    const command = basename(process.argv[1] ?? "command");
    process.stderr.write(`${command}: ${e.message}\n${spec.usage ? `usage: ${spec.usage}\n` : ""}`);
    process.exit(2);
  }
}

/** Like parseFlags, throwing FlagError instead of exiting (for tests and callers that report errors themselves). */
export function checkFlags<S extends string = never, B extends string = never>(spec: FlagSpec<S, B>, args: string[]): Flags<S, B> {
  return check(spec, args);
}

/** The named value flags of a command that takes nothing else (see parseFlags). */
export function flags<N extends string>(names: readonly N[], usage?: string, args = process.argv.slice(2)): Partial<Record<N, string>> {
  return parseFlags<N>({ strings: names, ...(usage ? { usage } : {}) }, args).values;
}
