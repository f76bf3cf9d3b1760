// Export parity from the TypeScript side: a tiny model exported by seedface.parity_fixture must give,
// in onnxruntime-node, the PyTorch outputs within 1e-4 relative (max|ort - torch| / max|torch|) for the mapping,
// every student img_* and the teacher image. The model is driven only through src/shared's manifest parser, so this
// also proves the TS runtime reads our own export (names, shapes, files, sha256).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest, NetworkSpec } from "../../src/shared/manifest.js";
import { fullOutput, networkFile, noiseInputs, parseManifest, studentLevels, wInput } from "../../src/shared/manifest.js";
import { latentFromSeed, noisesFromSeed } from "../../src/shared/seed.js";

const REPO = resolve(import.meta.dirname, "../..");
const RTOL = 1e-4;

interface Flat {
  shape: number[];
  data: number[];
}
interface Case {
  seed: string;
  student_w: Flat;
  teacher_w: Flat;
  noise: (Flat & { name: string })[];
  student: Record<string, Flat>;
  teacher: Record<string, Flat>;
}
interface Reference {
  seeds: string[];
  z: Flat;
  w: Flat;
  cases: Case[];
}

let tmp: string;
let modelDir: string;
let manifest: Manifest;
let ref: Reference;
const sessions = new Map<string, ort.InferenceSession>();

/** max|a - b| / max|b|: the export's parity measure (training/seedface/release/export.py). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  expect(scale).toBeGreaterThan(0); // an all-zero reference would make the check meaningless
  return diff / scale;
}

function tensor(f: Flat): ort.Tensor {
  return new ort.Tensor("float32", Float32Array.from(f.data), f.shape);
}

async function session(net: NetworkSpec): Promise<ort.InferenceSession> {
  const { file } = networkFile(net);
  if (!sessions.has(file)) {
    const s = await ort.InferenceSession.create(join(modelDir, file), {
      executionProviders: ["cpu"],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    sessions.set(file, s);
  }
  return sessions.get(file)!;
}

/** Feeds for a synthesis network, built from the manifest's input list: the w input plus its noise_k maps. */
function synthesisFeeds(net: NetworkSpec, w: Flat, c: Case): Record<string, ort.Tensor> {
  const wi = wInput(net);
  expect(w.shape).toEqual([1, wi.nW, manifest.style_dim]);
  const feeds: Record<string, ort.Tensor> = { [wi.name]: tensor(w) };
  for (const n of noiseInputs(net)) {
    const map = c.noise[n.index]!;
    expect(map.name).toBe(n.name);
    expect(map.shape).toEqual([1, 1, n.size, n.size]);
    feeds[n.name] = tensor(map);
  }
  return feeds;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "seedface-parity-"));
  execFileSync(resolve(REPO, "training/.venv/bin/python"), ["-m", "seedface.parity_fixture", "--out", tmp], {
    cwd: resolve(REPO, "training"),
    env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 120_000,
  });
  modelDir = join(tmp, "model");
  manifest = parseManifest(JSON.parse(readFileSync(join(modelDir, "manifest.json"), "utf8")));
  ref = JSON.parse(readFileSync(join(tmp, "reference.json"), "utf8")) as Reference;
});

afterAll(async () => {
  for (const s of sessions.values()) await s.release();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("ONNX export parity in onnxruntime-node", () => {
  it("the TS manifest parser reads our export: files with matching sha256, levels, noise inputs", () => {
    expect(manifest.id).toBe("parity-tiny");
    const listed = new Map(manifest.files.map((f) => [f.path, f]));
    const nets = { mapping: manifest.networks.mapping, student: manifest.networks.student, teacher: manifest.networks.teacher! };
    expect(nets.teacher).toBeDefined();
    for (const net of Object.values(nets)) {
      const { file } = networkFile(net);
      const entry = listed.get(file);
      expect(entry, file).toBeDefined();
      const bytes = readFileSync(join(modelDir, file));
      expect(bytes.length).toBe(entry!.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(entry!.sha256);
    }
    // student outputs are the levels 8..resolution, the teacher's single output is the full resolution
    const sizes = studentLevels(manifest).map((l) => l.size);
    expect(sizes[0]).toBe(8);
    expect(sizes[sizes.length - 1]).toBe(manifest.resolution);
    expect(Object.keys(ref.cases[0]!.student).sort()).toEqual(studentLevels(manifest).map((l) => l.output).sort());
    expect(fullOutput(nets.teacher).name).toBe(`img_${manifest.resolution}`);
    // noise_k means the same map for both networks: the student's are a prefix of the teacher's
    const sNoise = noiseInputs(nets.student);
    expect(sNoise).toEqual(noiseInputs(nets.teacher).slice(0, sNoise.length));
  });

  it("seed -> z and noise from src/shared/seed.ts equal Python's seedface.seeding bit for bit", async () => {
    const dim = manifest.style_dim;
    for (const [i, seed] of ref.seeds.entries()) {
      const z = await latentFromSeed(seed, dim);
      expect(Array.from(z)).toEqual(ref.z.data.slice(i * dim, (i + 1) * dim));
      const noise = noiseInputs(manifest.networks.teacher!);
      const maps = await noisesFromSeed(seed, noise.map((n) => n.size));
      maps.forEach((m, k) => expect(Array.from(m)).toEqual(ref.cases[i]!.noise[k]!.data));
    }
  });

  it("mapping: w for a batch of seeds", async () => {
    const net = manifest.networks.mapping;
    const s = await session(net);
    const zName = net.inputs[0]!.name;
    const wName = net.outputs[0]!.name;
    expect(ref.z.shape).toEqual([ref.seeds.length, manifest.style_dim]); // a dynamic batch of all seeds at once
    const out = await s.run({ [zName]: tensor(ref.z) }, [wName]);
    expect([...out[wName]!.dims]).toEqual(ref.w.shape);
    const err = relErr(out[wName]!.data as Float32Array, ref.w.data);
    expect(err).toBeLessThanOrEqual(RTOL);
  });

  it("student: every img_* level", async () => {
    const net = manifest.networks.student;
    const s = await session(net);
    const names = studentLevels(manifest).map((l) => l.output);
    for (const c of ref.cases) {
      const out = await s.run(synthesisFeeds(net, c.student_w, c), names);
      for (const n of names) {
        expect([...out[n]!.dims], `${c.seed} ${n}`).toEqual(c.student[n]!.shape);
        const err = relErr(out[n]!.data as Float32Array, c.student[n]!.data);
        expect(err, `${c.seed} ${n}`).toBeLessThanOrEqual(RTOL);
      }
    }
  });

  it("teacher: the full-resolution image", async () => {
    const net = manifest.networks.teacher!;
    const s = await session(net);
    const name = fullOutput(net).name;
    for (const c of ref.cases) {
      const out = await s.run(synthesisFeeds(net, c.teacher_w, c), [name]);
      expect([...out[name]!.dims]).toEqual(c.teacher[name]!.shape);
      const err = relErr(out[name]!.data as Float32Array, c.teacher[name]!.data);
      expect(err, c.seed).toBeLessThanOrEqual(RTOL);
    }
  });

  it("the check can fail: a perturbed reference is rejected", async () => {
    const c = ref.cases[0]!;
    const net = manifest.networks.student;
    const name = fullOutput(net).name;
    const out = await (await session(net)).run(synthesisFeeds(net, c.student_w, c), [name]);
    const want = [...c.student[name]!.data];
    const mid = want.length >> 1;
    want[mid] = want[mid]! + 1e-2 * Math.max(...want.map(Math.abs));
    expect(relErr(out[name]!.data as Float32Array, want)).toBeGreaterThan(RTOL);
  });
});
