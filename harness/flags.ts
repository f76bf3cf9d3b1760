// Command-line flags of the benchmarks (--name value or --name=value), parsed by util.parseArgs.
import { parseArgs } from "node:util";

/** The named string flags given on the command line; flags not named here are left alone (not an error). */
export function flags<N extends string>(names: readonly N[], args = process.argv.slice(2)): Partial<Record<N, string>> {
  const options = Object.fromEntries(names.map((n) => [n, { type: "string" as const }]));
  const { values } = parseArgs({ args, options, strict: false, allowPositionals: true });
  const out: Partial<Record<N, string>> = {};
  for (const n of names) if (typeof values[n] === "string" && values[n] !== "") out[n] = values[n];
  return out;
}
