"""MODEL_CARD.md and samples.jpg of an imported release model directory, generated from its manifest.

    python -m seedface.model_card models/ffhq        (re-run after eval:faces / heads figures change the manifest)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seedface.pipeline.face import seed_feeds, to_pixels
from seedface.pipeline.runtime import session
from seedface.release import manifest as mf
from seedface.release.quantize import WEIGHT_ONLY_SESSION_CONFIG

SAMPLES = "samples.jpg"
GRID_SEEDS = [f"sample/{i}" for i in range(16)]


def render(model_dir: Path, man: dict, seeds: list[str], output: str, psi: float | None = None,
           precision: str = "fp32") -> np.ndarray:
    """[N, H, W, 3] uint8 faces from one student output, rendered as the service does (seed -> z -> w' -> img)."""
    st, mp = man["networks"]["student"], man["networks"]["mapping"]
    cfg = WEIGHT_ONLY_SESSION_CONFIG if precision == "int8" else None
    ms = session(Path(model_dir) / mp["files"].get(precision, mp["files"]["fp32"]), cfg)
    ss = session(Path(model_dir) / st["files"][precision], cfg)
    out = []
    for s in seeds:  # one seed at a time: the mapping runs at batch 1, as the service runs it
        img = ss.run([output], seed_feeds(model_dir, man, [s], mapping=ms, psi=psi)[0])[0][0]
        out.append(to_pixels(np.clip(img, -1, 1)).transpose(1, 2, 0))
    return np.stack(out)


def grid(images: np.ndarray, cols: int) -> np.ndarray:
    n, h, w, c = images.shape
    rows = (n + cols - 1) // cols
    g = np.full((rows * h, cols * w, c), 255, np.uint8)
    for i, im in enumerate(images):
        g[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = im
    return g


def write_samples(model_dir: Path, man: dict, output: str = "img_256") -> str:
    imgs = render(model_dir, man, GRID_SEEDS, output)
    small = np.stack([np.asarray(Image.fromarray(i).resize((192, 192), Image.BOX)) for i in imgs])
    Image.fromarray(grid(small, 8)).save(Path(model_dir) / SAMPLES, quality=88)
    return SAMPLES


def _levels_table(man: dict) -> str:
    st = man["networks"]["student"]
    q = {l["output"]: l for l in (man.get("quantization") or {}).get("levels", [])}
    rows = ["| level | MACs | int8 vs fp32 (median / min dB) |", "|---|---|---|"]
    for l in st["levels"]:
        ql = q.get(l["output"], {})
        rows.append(f"| {l['size']} | {l['macs'] / 1e9:.2f} G | {ql.get('psnr_db', '-')} / {ql.get('psnr_min_db', '-')} |")
    return "\n".join(rows)


def _serving_table(man: dict) -> str:
    sv = man["networks"]["student"].get("serving") or {}
    rows = sv.get("sizes") or []
    if not rows:
        return "_No serving table: each size renders from the smallest level at or above it._"
    meas = sv.get("measured", {})
    out = [f"The edge draws sizes up to {sv.get('edge_max_size')} px; larger ones come from the origin (fp32, "
           "up to 1024). Each size is drawn from the cheapest level whose face, area-downsampled, matches the 1024 "
           f"face downsampled to that size ({meas.get('seeds')} seeds at psi {meas.get('psi')}; "
           "`npm run report:heads`, full table in `training/reports/<id>_heads.md`). The fitted heads alone do not "
           "draw the same person at their own level (median distance 0.35-0.48), so small sizes come from larger "
           "levels; a narrower edge student (issue 15) is the way to make them cheap.", "", "| sizes up to | drawn from | median PSNR vs 1024 | median same-person distance |",
           "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['up_to']} | {r['output']} | {r.get('psnr_db', '-')} | {r.get('face_distance', '-')} |")
    return "\n".join(out)


def write_release_card(model_dir: Path) -> None:
    model_dir = Path(model_dir)
    man = mf.load(model_dir)
    prov = man["provenance"]
    rel = prov.get("release", {})
    samples = write_samples(model_dir, man)
    faces = (man.get("metrics") or {}).get("faces")
    heads = prov.get("heads", {})
    text = f"""# {man['id']} {man['version']}: MobileStyleGAN FFHQ {man['resolution']}px (the authors' release)

![16 seeds at 256 px]({samples})

**Licence: non-commercial use only.** {man['training_data']['licence']}.
{_versions_line(man)}
## Where the weights come from
- Authors: {rel.get('authors')}. Package `{rel.get('package')}=={rel.get('version')}` on PyPI, file
  `{rel.get('file')}`, sha256 `{rel.get('sha256')}` (package licence {rel.get('package_licence')}).
- Files read: `random_face/data/MappingNetwork.{{xml,bin}}`, `SynthesisNetwork.{{xml,bin}}` (OpenVINO IR v10, fp32),
  read without OpenVINO by `training/seedface/release/openvino_ir.py` and mapped onto our modules by
  `training/seedface/release/ir_modules.py`. Checked: our fp32 export reproduces the release's own OpenVINO output
  (test `training/tests/test_release_ir.py`).
- Imported by `npm run models:ffhq` (downloads the pinned wheel, checks the sha256, runs `npm run convert`).
- Fitted here: the wavelet heads for levels 8..512, which the release's export dropped
  ({heads.get('head', '')}; {heads.get('train_faces')} faces, {heads.get('steps')} steps, frozen trunk;
  file `{heads.get('file')}`, sha256 `{heads.get('sha256', '')[:16]}...`).
- Truncation mean: {man['truncation'].get('mean_source')}. Default psi {man['truncation']['default_psi']}.
- Noise: the release froze one noise draw into its graph. Per-seed noise uses the per-layer strengths recovered
  from those constants (std of each constant); the release's own draw is kept in `release_noise.bin` for exact
  parity with `random_face` (see the manifest's `networks.student.release_noise`).

## Sizes and levels
{_serving_table(man)}

{_levels_table(man)}

Edge files: `student_int8.onnx` + `mapping_int8.onnx`, weight-only int8,
{(man.get('quantization') or {}).get('size_ratio')}x smaller than fp32.

## Faces judged by pretrained networks
{_faces_section(faces)}

## Attribute control (gender, age, expression)
{_attributes_section(man)}

## Known failure modes and biases
- FFHQ is Flickr portraits: mostly young to middle-aged adults, skewed towards light skin tones; children,
  old people and darker skin tones are under-represented, so the generator draws them less often and less well.
- Classic StyleGAN2 artefacts survive distillation: asymmetric earrings and glasses, smeared backgrounds,
  "water droplet" blobs, garbled text and hands; high psi (> 0.8) gives more variety and more broken faces.
- Faces for small sizes come from fitted heads, not the full network: the same person, but not pixel-identical to
  the 1024 face (figures above).
- Like any face generator, these faces can look like real people by chance; do not use them to impersonate.
"""
    (model_dir / "MODEL_CARD.md").write_text(text)


def _versions_line(man: dict) -> str:
    earlier = man.get("earlier_versions") or []
    if not earlier:
        return ""
    return "\n" + "\n".join(f"Version {man['version']} draws the same faces as {e['version']} without attribute options "
                             f"(`/v/{man['id']}@{e['version']}/` still serves them; with options it answers 410): "
                             f"{e['changed']}." for e in earlier) + "\n"


def _attributes_section(man: dict) -> str:
    a = man.get("attributes")
    if not a:
        return "_No attribute directions: `npm run label:attributes && npm run fit:attributes`._"
    fit = a.get("fit", {})
    opts = a.get("options", {})
    rows = [f"Directions in w: `{a['file']}` (sha256 `{a['sha256'][:16]}...`, format {a['format']}), fitted by "
            f"{fit.get('tool')} on {fit.get('detected')} of {fit.get('faces')} labeled faces (target "
            f"{fit.get('target')}). Options: " + ", ".join(f"`{k}`: {v if isinstance(v, str) else ' / '.join(v)}"
                                                         for k, v in opts.items())
            + "; adult preset `age_min=18`. Not available: "
            + "; ".join(f"`{k}` ({v})" for k, v in (a.get("unavailable") or {}).items())
            + ". How it works and the caveats: docs/attributes.md."]
    m = a.get("metrics")
    if not m:
        return "\n".join(rows + ["", "_Not measured yet: `npm run eval:attributes`._"])
    u = m["unedited"]
    second = m.get("second_judge")
    rows += ["", f"{m['seeds']} held-out seeds ({m['seed_names']}) at psi {m['psi']}, {m['size']} px drawn from "
             f"{m.get('output', '?')} (as the service draws that size), judged by "
             f"{m['judge']} (the fitting labels' judge)"
             + (f" and, for gender and age, by a second judge that shares nothing with the fit: {second}" if second
                else "; no second judge") + f"; identity, "
             f"look-alikes and detection by {m['identity_judge']}. Unedited: dlib detection "
             f"{u['detection_rate']:.1%}, look-alike pairs {u['lookalike_rate']:.2%}.", "",
             "| option | success | second judge | in class unedited | moved | identity median (moved) | look-alike | detection |",
             "|---|---|---|---|---|---|---|---|"]
    for r in m["options"]:
        im = "-" if r["identity_median"] is None else f"{r['identity_median']:.3f}"
        s2 = "-" if r.get("second_judge_success_rate") is None else f"{r['second_judge_success_rate']:.1%}"
        rows.append(f"| `{r['option']}` | {r['success_rate']:.1%} | {s2} | {r['in_class_unedited']:.1%} | "
                    f"{r['moved_share']:.0%} | {im} | {'-' if r['lookalike_rate'] is None else format(r['lookalike_rate'], '.2%')} | "
                    f"{r['detection_rate']:.1%} |")
    rows += ["", "Targets: success >= 95%, identity median <= 0.45, look-alike within 3 points of unedited, detection "
             "unchanged. Full report and sample grid: `training/reports/ffhq_attributes.md`."]
    return "\n".join(rows)


def _faces_section(faces) -> str:
    if not faces:
        return "_Not measured yet: run `npm run eval:faces -- models/ffhq --write-manifest`._"
    rows = [f"{faces['seeds']} seeds ({faces['seed_names']}) at {faces['size']} px (drawn from {faces['output']}), judged "
            f"by {faces['judge']}; look-alike = a pair of different seeds closer than {faces['threshold']}.", "",
            "| psi | faces detected | look-alike pairs |", "|---|---|---|"]
    for r in faces["psi"]:
        rows.append(f"| {r['psi']} | {r['detection_rate']:.1%} | {r['lookalike_rate']:.1%} |")
    q = faces.get("int8")
    if q:
        d = q["distance_vs_fp32"]
        rows += ["", f"Edge int8 vs origin fp32, same seed (psi {q['psi']}): descriptor distance median {d['median']:.3f}, "
                 f"p90 {d['p90']:.3f}, max {d['max']:.3f} over {d['n']} faces (target median <= 0.2); int8 detection "
                 f"{q['detection_rate']:.1%}."]
    rows += ["", f"Default psi: see the manifest's `truncation.default_psi`; the judge's rule ({faces['rule']}) "
             f"suggests {faces['recommended_psi']}."]
    return "\n".join(rows)
