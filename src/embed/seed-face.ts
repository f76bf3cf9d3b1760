// <seed-face seed="alice" size="96" psi="0.7" mode="auto|server|browser|wasm|webgpu" label="Alice"
//            gender="female|male" age="child|young|adult|senior" age-min="18" expression="smile|neutral">
// The attribute options are the URL API's (src/shared/attributes.ts): the same seed and options give the same face
// on every path; an invalid value makes the element's state "error" (seedface:error, detail.message).
// <seed-face email="Alice@Example.com" size="96">: the address is normalised and SHA-256-hashed in the page
// (hash.ts); only the hash is used as the seed, in the URL or in the in-browser renderer.
// The face is drawn at size x devicePixelRatio pixels (crisp on HiDPI screens), shown at size CSS pixels; the
// edge's URL is versioned (/v/<model>@<version>/face/<seed>.webp), so browsers may keep it immutably.
// auto (the default): an <img> from the edge: measured on a page of 20 avatars, fetching the images was ~10x faster
// than drawing them in the browser even with the model cached (docs/embed.md, bench/embed.ts). browser: in the browser
// (WebGPU on a hardware adapter, else WASM) for sizes the edge draws itself, else the <img>.
// wasm / webgpu: force that in-browser path. Nothing loads before the element nears the viewport.
import type { AttributeOptions } from "../shared/attributes.js";
import { parseAttributeOptions } from "../shared/attributes.js";
import { DEFAULT_PSI, DEFAULT_SIZE, SIZE_MAX, SIZE_MIN, round2 } from "../shared/params.js";
import { hasWasm, webGPUAdapter } from "./capabilities.js";
import { faceUrl, SERVED_MODEL } from "./face-url.js";
import { hashEmail } from "./hash.js";
import type { ClientPath, RenderPath } from "./messages.js";
import { FaceRenderer } from "./render-client.js";

/** Element attribute -> URL option (age-min is the URL's age_min). */
const FACE_ATTRIBUTES: readonly (readonly [string, string])[] = [
  ["gender", "gender"], ["age", "age"], ["age-min", "age_min"], ["expression", "expression"], ["glasses", "glasses"],
];

export type Mode = "auto" | "server" | "browser" | "wasm" | "webgpu";
const MODES: readonly Mode[] = ["auto", "server", "browser", "wasm", "webgpu"];

export interface RenderedDetail {
  path: RenderPath;
  /** From the start of loading (element near the viewport) to the face on screen. */
  ms: number;
  /** Why a client path fell back to the server, if it did. */
  fallback?: string;
  /** In-browser paths: the student output (level) drawn, as the edge picks it, and the inputs fed to its pruned graph. */
  level?: string;
  inputs?: string[];
}

interface BrowserModel {
  default: string | null;
  resolution?: number;
  /** Largest size the edge draws itself (older builds: absent, use resolution). */
  max_size?: number;
}

const STYLE = `:host{display:inline-block;position:relative;overflow:hidden;vertical-align:middle;background:#8882;
contain:strict;width:var(--seed-face-size);height:var(--seed-face-size)}
canvas,img{display:block;width:100%;height:100%;image-rendering:auto}`;

let modelInfo: Promise<BrowserModel> | undefined;
function browserModel(base: string): Promise<BrowserModel> {
  modelInfo ??= fetch(new URL("embed/models.json", base))
    .then((r) => (r.ok ? (r.json() as Promise<BrowserModel>) : { default: null }))
    .catch(() => ({ default: null }));
  return modelInfo;
}

let observer: IntersectionObserver | undefined;
function lazyObserver(): IntersectionObserver {
  observer ??= new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      observer!.unobserve(e.target);
      (e.target as SeedFace).visible();
    }
  }, { rootMargin: "200px" });
  return observer;
}

export class SeedFace extends HTMLElement {
  static readonly observedAttributes = ["seed", "email", "size", "psi", "mode", "label", ...FACE_ATTRIBUTES.map((a) => a[0])];
  /** Directory the embed files come from (set by embed.ts from import.meta.url). */
  static base = "/";

  private readonly root: ShadowRoot;
  private isVisible = false;
  private generation = 0;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    this.root.innerHTML = `<style>${STYLE}</style>`;
  }

  get seed(): string | null { return this.getAttribute("seed"); }
  /** The seed to draw: the hash of the email attribute when there is one, else the seed attribute. */
  private async effectiveSeed(): Promise<string | null> {
    const email = this.getAttribute("email");
    if (email !== null && email.trim() !== "") return hashEmail(email);
    return this.seed;
  }
  /** Pixels to draw: size x devicePixelRatio (at most the API's largest size). */
  get pixelSize(): number {
    const dpr = typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1;
    return Math.min(SIZE_MAX, Math.max(SIZE_MIN, Math.round(this.size * dpr)));
  }
  get size(): number {
    const n = Number(this.getAttribute("size") ?? DEFAULT_SIZE);
    return Number.isInteger(n) ? Math.min(SIZE_MAX, Math.max(SIZE_MIN, n)) : DEFAULT_SIZE;
  }
  /** psi attribute rounded like the edge rounds it, or undefined (model default). */
  get psi(): number | undefined {
    const v = this.getAttribute("psi");
    const x = v === null || v.trim() === "" ? NaN : Number(v);
    return Number.isFinite(x) ? round2(Math.min(1, Math.max(0, x))) : undefined;
  }
  /** The attribute options (gender, age, age-min, expression, glasses) as the URL API parses them; throws on a bad value. */
  get faceAttributes(): AttributeOptions {
    const q = new URLSearchParams();
    for (const [attr, opt] of FACE_ATTRIBUTES) {
      const v = this.getAttribute(attr);
      if (v !== null && v.trim() !== "") q.set(opt, v.trim());
    }
    return parseAttributeOptions(q);
  }
  get mode(): Mode {
    const m = this.getAttribute("mode") as Mode | null;
    return m && MODES.includes(m) ? m : "auto";
  }

  connectedCallback(): void {
    this.setAttribute("role", "img");
    this.updateLabel();
    this.style.setProperty("--seed-face-size", `${this.size}px`);
    if (!this.hasAttribute("data-state")) this.setAttribute("data-state", "idle");
    lazyObserver().observe(this);
  }

  disconnectedCallback(): void {
    observer?.unobserve(this);
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value) return;
    if (name === "label" || name === "seed" || name === "email") this.updateLabel();
    if (name === "size") this.style.setProperty("--seed-face-size", `${this.size}px`);
    if (name !== "label" && this.isVisible) void this.load();
  }

  /** Called by the shared IntersectionObserver once the element is near the viewport. */
  visible(): void {
    this.isVisible = true;
    void this.load();
  }

  private updateLabel(): void {
    // Never the e-mail address in the label (it is in the DOM anyway, but the label is read out and copied).
    const label = this.getAttribute("label") ?? (this.seed ? `Face for “${this.seed}”` : "Face");
    this.setAttribute("aria-label", label);
  }

  private async choosePath(): Promise<RenderPath> {
    const mode = this.mode;
    // auto: the edge's image. bench/embed.ts measured 20 avatars per page with in-browser WASM (cold and with the
    // model in Cache Storage) and WebGPU (SwiftShader) against <img> (edge cache cold and warm, browser cache cold
    // and warm): the images were painted first, except against an edge drawing all 20 itself, where warm WASM was
    // about even (docs/embed.md, "Choosing the default").
    if (mode === "server" || mode === "auto") return "server";
    const model = await browserModel(SeedFace.base);
    if (!model.default || !hasWasm()) return "server";
    if (mode === "webgpu" || mode === "wasm") return mode;
    // browser: above the largest size the edge draws itself, the edge (or its origin) renders better than an
    // upscale here. WebGPU only on a hardware adapter: a software one (SwiftShader) was far slower than WASM.
    if (this.pixelSize > (model.max_size ?? model.resolution ?? 0)) return "server";
    return (await webGPUAdapter()) === "hardware" ? "webgpu" : "wasm";
  }

  private async load(): Promise<void> {
    const gen = ++this.generation;
    const seed = await this.effectiveSeed();
    if (!seed || gen !== this.generation) return;
    const t0 = performance.now();
    let attrs: AttributeOptions;
    try {
      attrs = this.faceAttributes;
    } catch (e) {
      this.setAttribute("data-state", "error");
      this.dispatchEvent(new CustomEvent("seedface:error", { detail: { path: "none", message: e instanceof Error ? e.message : String(e) }, bubbles: true }));
      return;
    }
    this.setAttribute("data-state", "loading");
    const path = await this.choosePath();
    if (gen !== this.generation) return;
    if (path === "server") return this.showImg(seed, gen, t0, undefined, attrs);
    // browser: if WebGPU cannot start here, WASM is next, then the edge.
    const paths: ClientPath[] = path === "webgpu" && this.mode === "browser" ? ["webgpu", "wasm"] : [path];
    const why: string[] = [];
    for (const p of paths) {
      try {
        const renderer = FaceRenderer.get(SeedFace.base, p);
        const model = await renderer.ready;
        const face = await renderer.render(seed, this.pixelSize, this.psi ?? round2(model.defaultPsi ?? DEFAULT_PSI), attrs);
        if (gen !== this.generation) return;
        const canvas = document.createElement("canvas");
        canvas.width = face.width;
        canvas.height = face.height;
        canvas.getContext("2d")!.putImageData(new ImageData(face.rgba, face.width, face.height), 0, 0);
        this.replaceContent(canvas);
        this.done(p, t0, why.length ? why.join("; ") : undefined, { level: face.level, inputs: face.inputs });
        return;
      } catch (e) {
        if (gen !== this.generation) return;
        why.push(`${p}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    console.warn(`<seed-face>: rendering in the browser failed, using the edge (${why.join("; ")})`);
    this.showImg(seed, gen, t0, why.join("; "), attrs);
  }

  private showImg(seed: string, gen: number, t0: number, fallback?: string, attributes?: AttributeOptions): void {
    const img = document.createElement("img");
    img.alt = this.getAttribute("aria-label") ?? "";
    img.width = img.height = this.size;
    img.decoding = "async";
    img.crossOrigin = "anonymous";
    img.addEventListener("load", () => { if (gen === this.generation) this.done("server", t0, fallback); });
    img.addEventListener("error", () => {
      if (gen !== this.generation) return;
      this.setAttribute("data-state", "error");
      this.dispatchEvent(new CustomEvent("seedface:error", { detail: { path: "server" }, bubbles: true }));
    });
    img.src = faceUrl(SeedFace.base, seed, { size: this.pixelSize, psi: this.psi, format: "webp", version: SERVED_MODEL, attributes });
    this.replaceContent(img);
  }

  private replaceContent(el: HTMLElement): void {
    this.root.querySelector("canvas,img")?.remove();
    this.root.append(el);
  }

  private done(path: RenderPath, t0: number, fallback?: string, drawn?: { level: string; inputs: string[] }): void {
    const detail: RenderedDetail = { path, ms: Math.round(performance.now() - t0), ...(fallback ? { fallback } : {}), ...(drawn ?? {}) };
    this.setAttribute("data-path", path);
    this.setAttribute("data-state", "ready");
    this.dispatchEvent(new CustomEvent<RenderedDetail>("seedface:render", { detail, bubbles: true }));
  }
}
