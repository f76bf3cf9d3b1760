// The benchmarks' flag parsing (harness/flags.ts, util.parseArgs): values, switches, positionals, and a clear error
// with exit status 2 for anything the command does not take.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFlags, FlagError } from "../../harness/flags.js";
import { REPO } from "../../harness/worker.js";

const spec = { strings: ["runs", "model"], booleans: ["no-webgpu"], positionals: 1 } as const;

describe("bench flags", () => {
  it("reads --name value, --name=value, switches and positionals", () => {
    const f = checkFlags(spec, ["models/x", "--runs", "5", "--model=ffhq", "--no-webgpu"]);
    expect(f.values).toEqual({ runs: "5", model: "ffhq", "no-webgpu": true });
    expect(f.positionals).toEqual(["models/x"]);
    expect(checkFlags(spec, []).values).toEqual({ "no-webgpu": false });
    expect(checkFlags(spec, ["--runs="]).values.runs).toBeUndefined(); // empty: not given
  });

  it("refuses unknown flags, missing values and extra arguments, naming the flags it takes", () => {
    expect(() => checkFlags(spec, ["--rnus", "5"])).toThrow(FlagError);
    expect(() => checkFlags(spec, ["--rnus", "5"])).toThrow(/unknown flag --rnus \(flags: --runs VALUE, --model VALUE, --no-webgpu\)/);
    expect(() => checkFlags(spec, ["--runs"])).toThrow(/--runs/);
    expect(() => checkFlags(spec, ["a", "b"])).toThrow(/unexpected argument "b"/);
    expect(() => checkFlags({}, ["--x"])).toThrow(/unknown flag --x \(it takes no flags\)/);
  });

  it("a benchmark given an unknown flag says so and exits with status 2", () => {
    const r = spawnSync(join(REPO, "node_modules/.bin/tsx"), ["bench/psi-grid.ts", "--sizes", "96"], { cwd: REPO, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("psi-grid.ts: unknown flag --sizes (flags: --size VALUE, --seeds VALUE)");
    expect(r.stderr).toContain("usage: npm run grid:psi");
  });
});
