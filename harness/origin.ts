// Test harness: runs the origin as a real child process (the same entry point as `npm run origin`) on a free port.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { EdgeBuild } from "./models.js";
import { edgeBuildFor, faces64Models, hasFaces64Teacher, teacherOnDisk } from "./models.js";

export const ROOT = resolve(import.meta.dirname, "..");
/** Models root of the repository (what the edge bundles), unless overridden; startOrigin's default. */
export const MODELS = process.env.SEEDFACE_TEST_MODELS ?? join(ROOT, "models");
export const TOKEN = "test-token-0123456789abcdef";

interface ManifestLite {
  id: string;
  version: string;
  networks: { teacher?: unknown };
  files: { path: string; sha256?: string }[];
  provenance?: { from?: string };
}

/**
 * A models root whose default model has a teacher (its file on disk), for origin tests of model=teacher:
 * - the repository's models root when its default model has one;
 * - a default made by `seedface.make_default` without teacher.onnx (size) is re-exported with its teacher by the tool
 *   that made it (`--with-teacher`, deterministic: fixed torch seed) into a temp folder, cached by the student's hash,
 *   and checked to have byte-identical mapping and student files, so the edge (which bundles the committed model) and
 *   the origin draw from the same networks;
 * - otherwise (an imported default such as FFHQ, which has no teacher network) faces64, the model with a teacher
 *   (harness/models.ts faces64Models); pair it with an edge built for the same root (edgeBuildFor).
 */
export function modelsWithTeacher(): string {
  const root = MODELS;
  const id = (JSON.parse(readFileSync(join(root, "default.json"), "utf8")) as { default: string }).default;
  const man = JSON.parse(readFileSync(join(root, id, "manifest.json"), "utf8")) as ManifestLite;
  if (man.networks.teacher && teacherOnDisk(join(root, id))) return root;
  const preset = /seedface\.make_default --preset (\S+)/.exec(man.provenance?.from ?? "")?.[1];
  if (!preset) {
    if (hasFaces64Teacher) return faces64Models();
    throw new Error(`${root}/${id} has no teacher and was not made by seedface.make_default, and models/faces64 has no teacher.onnx ` +
      "(`npm run models:faces64` makes it): cannot test teacher renders");
  }
  const sha = (f: string) => man.files.find((x) => x.path === f)?.sha256 ?? "";
  const out = join(tmpdir(), `seedface-origin-teacher-${id}-${man.version}-${sha("student_fp32.onnx").slice(0, 16)}`);
  if (!existsSync(join(out, "default.json"))) {
    // Export next to it and rename into place, so concurrent test processes never see a half-written folder.
    const tmp = `${out}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const py = join(ROOT, "training", ".venv", "bin", "python");
    execFileSync(py, ["-m", "seedface.make_default", "--out", join(tmp, id), "--preset", preset, "--version", man.version,
      "--with-teacher", "--no-quantize", "--set-default"], { cwd: join(ROOT, "training"), env: { ...process.env, OMP_NUM_THREADS: "1" }, stdio: "pipe" });
    try {
      renameSync(tmp, out);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process got there first
    }
  }
  const made = JSON.parse(readFileSync(join(out, id, "manifest.json"), "utf8")) as ManifestLite;
  for (const f of ["mapping.onnx", "student_fp32.onnx"]) {
    const got = made.files.find((x) => x.path === f)?.sha256;
    if (!got || got !== sha(f)) throw new Error(`re-exported ${f} differs from ${root}/${id}/${f}: the committed model is not make_default's`);
  }
  return out;
}

export interface OriginProcess {
  url: string;
  proc: ChildProcess;
  /** Every stdout/stderr line so far. */
  logs: string[];
  exited: Promise<number | null>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  fetch(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
}

/**
 * Starts the origin on the repository's default model (`--models` in `flags` picks another models root, e.g.
 * modelsWithTeacher(); `--model <id>` another model of it); flags override defaults.
 */
export async function startOrigin(flags: string[] = [], env: Record<string, string> = {}): Promise<OriginProcess> {
  const dir = mkdtempSync(join(tmpdir(), "origin-test-"));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, TOKEN + "\n");
  const args = ["--import", "tsx", join(ROOT, "src/origin/main.ts"), "--port", "0", "--host", "127.0.0.1",
    "--models", MODELS, "--token-file", tokenFile, "--threads", "1", "--ep", "cpu", ...flags];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`origin did not start in 60 s:\n${logs.join("\n")}`)), 60_000);
    const onLine = (line: string) => {
      logs.push(line);
      if (line.includes('"event":"listening"')) {
        clearTimeout(timer);
        resolveUrl((JSON.parse(line) as { url: string }).url);
      }
    };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let buf = "";
      stream.setEncoding("utf8");
      stream.on("data", (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`origin exited with ${code} before listening:\n${logs.join("\n")}`));
    });
  });
  return {
    url,
    proc,
    logs,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    fetch(path, init = {}) {
      const { token = TOKEN, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set("authorization", `Bearer ${token}`);
      return fetch(url + path, { ...rest, headers });
    },
  };
}

/** The origin on a model with a teacher (modelsWithTeacher: faces64 while the default has none); flags as startOrigin's. */
export function startTeacherOrigin(flags: string[] = [], env: Record<string, string> = {}): Promise<OriginProcess> {
  return startOrigin(["--models", modelsWithTeacher(), ...flags], env);
}

/** The edge worker built for the teacher origin's model (the repository's build when that is the default model). */
export function teacherEdge(): Promise<EdgeBuild> {
  return edgeBuildFor(modelsWithTeacher());
}
