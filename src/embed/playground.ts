// The playground at "/": faces from the edge with client-side latency, student vs teacher when the edge has an
// origin, a morph between two seeds, and <seed-face> rendered in this browser.
import type { AttributeOptions } from "../shared/attributes.js";
import { ATTRIBUTE_OPTIONS, parseAttributeOptions } from "../shared/attributes.js";
import { faceUrl as rawFaceUrl, morphUrl as rawMorphUrl, SERVED_MODEL } from "./face-url.js";
import type { FaceUrlParams } from "./face-url.js";

// Versioned URLs of the model this edge serves (immutable; the playground shows what <seed-face> requests).
const faceUrl = (b: string, seed: string, p: FaceUrlParams) => rawFaceUrl(b, seed, { version: SERVED_MODEL, ...p });
const morphUrl = (b: string, a: string, c: string, t: number, p: FaceUrlParams) => rawMorphUrl(b, a, c, t, { version: SERVED_MODEL, ...p });
import type { RenderedDetail } from "./seed-face.js";

const GRID_COUNT = 12;
const base = new URL("/", location.href).href;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Timed {
  url: string;
  ms: number;
  serverTiming: string;
  source: string;
}

/** Server-Timing "a;dur=1.2, b;dur=3" -> "a 1.2 ms, b 3 ms". */
function formatServerTiming(h: string | null): string {
  if (!h) return "";
  return h.split(",").map((part) => {
    const [name, ...params] = part.trim().split(";");
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith("dur="));
    return dur ? `${name} ${Number(dur.slice(4)).toFixed(1)} ms` : name;
  }).join(", ");
}

/** Fetch a face PNG, time it to a decoded image, and show it in `img`. */
async function loadTimed(img: HTMLImageElement, url: string): Promise<Timed> {
  const t0 = performance.now();
  const res = await fetch(url);
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  }
  const blob = await res.blob();
  const old = img.src;
  img.src = URL.createObjectURL(blob);
  await img.decode();
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  return { url, ms: performance.now() - t0, serverTiming: formatServerTiming(res.headers.get("server-timing")), source: res.headers.get("x-face-source") ?? "" };
}

function caption(t: Timed): string {
  return `${t.ms.toFixed(0)} ms${t.source ? ` · ${t.source}` : ""}${t.serverTiming ? ` · server: ${t.serverTiming}` : ""}`;
}

/** The attribute controls as URL options (empty = not asked; "Adults only" = the adult preset, age_min=18). */
function attributes(): AttributeOptions {
  const q = new URLSearchParams();
  for (const k of ["gender", "age", "expression"]) q.set(k, $<HTMLSelectElement>(`attr-${k}`).value);
  if ($<HTMLInputElement>("attr-adult").checked) q.set("age_min", "18");
  return parseAttributeOptions(q);
}

function params(): { size: number; psi: number; attributes: AttributeOptions } {
  return { size: Number($<HTMLSelectElement>("size").value), psi: Number($<HTMLInputElement>("psi").value), attributes: attributes() };
}

function randomSeed(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

let gridSeeds: string[] = [];

function renderGrid(): void {
  const grid = $("grid");
  const p = params();
  grid.textContent = "";
  for (const seed of gridSeeds) {
    const fig = document.createElement("figure");
    fig.className = "face";
    fig.dataset.seed = seed;
    const img = document.createElement("img");
    img.alt = `Face for seed ${seed}`;
    const cap = document.createElement("figcaption");
    cap.textContent = `${seed} · loading`;
    fig.appendChild(img);
    fig.appendChild(cap);
    grid.appendChild(fig);
    loadTimed(img, faceUrl(base, seed, p)).then(
      (t) => { fig.dataset.latencyMs = t.ms.toFixed(1); fig.dataset.state = "ready"; cap.textContent = `${seed} · ${caption(t)}`; },
      (e: unknown) => { fig.dataset.state = "error"; cap.textContent = `${seed} · ${e instanceof Error ? e.message : e}`; },
    );
  }
}

let originConfigured = false;
/** The model's native resolution: in-browser demos stay at or below it (above it <seed-face> uses the edge). */
let modelResolution = 0;

async function loadModels(): Promise<void> {
  try {
    const res = await fetch(new URL("v1/models", base));
    if (!res.ok) return;
    const j = (await res.json()) as Record<string, any>;
    const m = Array.isArray(j.models) ? j.models[0] : j.model ?? j;
    const parts = [m?.id && `model ${m.id}@${m.version ?? "?"}`, m?.resolution && `${m.resolution}px`, m?.status].filter(Boolean);
    if (parts.length) $("model-info").textContent = parts.join(" · ");
    // Side by side when the edge has an origin (the teacher runs there; the edge's own manifest may omit it).
    originConfigured = j.origin?.configured === true;
    if (typeof m?.resolution === "number") modelResolution = m.resolution;
  } catch {
    // The playground still works without model info.
  }
}

function renderCompare(): void {
  const section = $("compare");
  section.hidden = !originConfigured;
  if (!originConfigured) return;
  const seed = $<HTMLInputElement>("seed").value || "alice";
  const p = { size: Math.max(128, params().size), psi: params().psi };
  for (const model of ["student", "teacher"] as const) {
    const cap = $(`cmp-${model}-cap`);
    loadTimed($<HTMLImageElement>(`cmp-${model}`), faceUrl(base, seed, { ...p, model })).then(
      (t) => { cap.textContent = `${model} · ${caption(t)}`; },
      (e: unknown) => { cap.textContent = `${model} · ${e instanceof Error ? e.message : e}`; },
    );
  }
}

function renderMorph(stripToo: boolean): void {
  const a = $<HTMLInputElement>("morph-a").value || "alice";
  const b = $<HTMLInputElement>("morph-b").value || "bob";
  const t = Number($<HTMLInputElement>("morph-t").value);
  $("morph-t-out").textContent = t.toFixed(2);
  const main = $<HTMLImageElement>("morph-main");
  main.src = morphUrl(base, a, b, t, { size: 192, psi: params().psi, attributes: attributes() });
  if (!stripToo) return;
  const strip = $("morph-strip");
  strip.textContent = "";
  for (const ti of [0, 0.25, 0.5, 0.75, 1]) {
    const img = document.createElement("img");
    img.alt = `Morph t=${ti}`;
    img.dataset.t = String(ti);
    img.src = morphUrl(base, a, b, ti, { size: 96, psi: params().psi, attributes: attributes() });
    strip.appendChild(img);
  }
}

function renderEmbedDemo(): void {
  const demo = $("embed-demo");
  demo.textContent = "";
  for (const seed of ["ada", "grace", "linus", "margaret"]) {
    const fig = document.createElement("figure");
    const face = document.createElement("seed-face");
    face.setAttribute("seed", seed);
    // mode="browser": drawn in this browser (the default, auto, shows the edge's image: docs/embed.md).
    face.setAttribute("mode", "browser");
    face.setAttribute("size", String(modelResolution > 0 ? Math.min(96, modelResolution) : 96));
    face.setAttribute("label", `Avatar for ${seed}`);
    const attrs = attributes();
    for (const k of ATTRIBUTE_OPTIONS) if (attrs[k] !== undefined) face.setAttribute(k === "age_min" ? "age-min" : k, String(attrs[k]));
    const cap = document.createElement("figcaption");
    cap.textContent = `${seed} · waiting`;
    face.addEventListener("seedface:render", (e) => {
      const d = (e as CustomEvent<RenderedDetail>).detail;
      cap.textContent = `${seed} · ${d.path} · ${d.ms} ms`;
    });
    fig.appendChild(face);
    fig.appendChild(cap);
    demo.appendChild(fig);
  }
}

function init(): void {
  for (const el of document.querySelectorAll(".origin")) el.textContent = location.origin;
  gridSeeds = Array.from({ length: GRID_COUNT }, randomSeed);
  const seed = $<HTMLInputElement>("seed");
  gridSeeds[0] = seed.value;
  $("shuffle").addEventListener("click", () => { gridSeeds = Array.from({ length: GRID_COUNT }, randomSeed); renderGrid(); });
  $("controls").addEventListener("submit", (e) => e.preventDefault());
  $("morph-form").addEventListener("submit", (e) => e.preventDefault());
  seed.addEventListener("change", () => { gridSeeds[0] = seed.value || "alice"; renderGrid(); renderCompare(); });
  $("size").addEventListener("change", () => { renderGrid(); renderCompare(); });
  const psi = $<HTMLInputElement>("psi");
  psi.addEventListener("input", () => { $("psi-out").textContent = Number(psi.value).toFixed(2); });
  psi.addEventListener("change", () => { renderGrid(); renderCompare(); renderMorph(true); });
  $("morph-t").addEventListener("input", () => renderMorph(false));
  $("attributes").addEventListener("submit", (e) => e.preventDefault());
  $("attributes").addEventListener("change", () => { renderGrid(); renderCompare(); renderMorph(true); renderEmbedDemo(); });
  for (const id of ["morph-a", "morph-b"]) $(id).addEventListener("change", () => renderMorph(true));
  renderGrid();
  renderMorph(true);
  void loadModels().then(() => { renderCompare(); renderEmbedDemo(); });
}

init();
