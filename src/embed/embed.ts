// /embed.js: defines <seed-face>. Load it with <script type="module" src="https://<edge>/embed.js"></script>.
import { SeedFace } from "./seed-face.js";

SeedFace.base = new URL("./", import.meta.url).href;
if (!customElements.get("seed-face")) customElements.define("seed-face", SeedFace);

export { SeedFace };
