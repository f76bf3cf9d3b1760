"""A model directory from an edge-student distillation run (a narrow student taught by the imported release).

The candidate draws the same faces as the release for the same seed only if everything before the synthesis is the
release's: so the mapping network is the release's (frozen in the run), the truncation mean is copied from the
reference model directory (not re-estimated), and the seed's noise follows the same manifest layout (the edge
student's noise_0 .. noise_K are the release's first K + 1 maps). The int8 edge files come from the release's own
edge quantizer (weight-only int8, seedface.release.edge_quant). Licence and training-data terms are the release's:
the weights are derived from it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seedface.release import manifest as mf
from seedface.release.edge_quant import quantize_edge
from seedface.release.model_card import _levels_table, write_samples
from seedface.release.export import write_model_dir
from seedface.release.writer import model_dir_writer
from seedface.train.distill import load_distilled, run_provenance


def export_edge_student(ckpt_path: Path, out: Path, reference: Path, model_id: str, version: str) -> dict:
    t, config, mapping, _, student, _ = load_distilled(ckpt_path)
    if config.teacher_channels:
        raise ValueError(f"{ckpt_path}: not an edge-student run (a distillation from the release wheel)")
    ref = mf.load(reference)
    mean = torch.tensor(np.asarray(ref["truncation"]["mean"], dtype=np.float32))
    prov = run_provenance(t)
    prov["reference"] = {"id": ref["id"], "version": ref["version"]}
    args = t.get("args") or {}
    prov["losses"] = {k: args.get(k) for k in ("rgb_weight", "wavelet_weight", "perceptual", "perceptual_weight",
                                               "face_batch", "gan_weight", "lr", "batch", "replay", "freeze_levels")}
    status = (f"candidate edge student: {student.channels} distilled from {ref['id']}@{ref['version']} (the "
              f"MobileStyleGAN authors' FFHQ release) for {t['step']} steps ({float(t['elapsed_s']) / 60:.0f} min, "
              f"{t.get('hardware', '?')}); non-commercial use only")
    with model_dir_writer(out) as tmp:
        man = write_model_dir(tmp, config, mapping.eval(), student.eval(), None, mean, model_id=model_id,
                              version=version, provenance=prov, trained=True, status=status,
                              training_data=ref.get("training_data"), quantize=False,
                              mean_source=f"copied from {ref['id']}@{ref['version']}: "
                                          f"{ref['truncation'].get('mean_source', '')}")
        man["truncation"]["default_psi"] = ref["truncation"]["default_psi"]
        mf.save(tmp, man)
        quantize_edge(tmp, edge_max=config.resolution)  # adds the int8 files and their figures to the manifest
        man = mf.load(tmp)
        write_edge_card(tmp, man, ref)
        return man


CARD = "MODEL_CARD.md"


def write_edge_card(model_dir: Path, man: dict, ref: dict, evaluation: dict | None = None) -> None:
    """MODEL_CARD.md + samples.jpg of a candidate edge student: where its weights come from (the release, through
    distillation here), their terms, how it was trained, its levels and, given an eval:edge report, its figures."""
    p, st = man["provenance"], man["networks"]["student"]
    rel = (ref.get("provenance") or {}).get("release") or {}
    lines = [f"# {man['id']} {man['version']}: edge student distilled from {ref['id']}@{ref['version']}", "",
             f"![16 seeds at {man['resolution']} px]({write_samples(model_dir, man, st['outputs'][-1]['name'])})", "",
             f"**Licence: non-commercial use only.** {man['training_data']['licence']}", "",
             "## Where the weights come from",
             f"- Distilled here from `{ref['id']}` {ref['version']}: the MobileStyleGAN authors' FFHQ student "
             f"({rel.get('authors', '?')}; PyPI `{rel.get('package', '?')}=={rel.get('version', '?')}`, "
             f"sha256 `{rel.get('sha256', '?')}`, package licence {rel.get('package_licence', '?')}). The weights "
             "are derived from the release's (a narrowing of them, then distillation), so its terms apply.",
             "- The mapping network and the truncation mean are the release's, unchanged: a seed gets the same w as "
             f"from `{ref['id']}`; the 8..32 px levels are the release's own layers (frozen), finer levels are narrower.",
             f"- Channels {st['channels']} (the release: {ref['networks']['student']['channels']}).",
             f"- Training: `{p.get('tool')}` {p.get('steps')} steps in {p.get('minutes')} min on {p.get('hardware')} "
             "(training/README.md, 'Edge student'): L1 + L2 in RGB and wavelet space at every level vs the release's "
             f"256 px head; the last invocation's settings: {p.get('losses')}.",
             f"- Status: {man['status']}", "",
             "## Sizes and levels", "", _levels_table(man), ""]
    if evaluation:
        d, f = evaluation["distance_vs_reference"], evaluation["faces"]
        lines += ["## Same person as the release? (`npm run eval:edge`)", "",
                  f"{evaluation['seeds']['n']} seeds at {evaluation['size']} px (dlib): median distance to the release's "
                  f"face {d['median']:.3f} (target <= {evaluation['targets']['distance_median']}), detection "
                  f"{f['candidate']['detection_rate']:.1%}, look-alike pairs {f['candidate']['lookalike_rate']:.2%} "
                  f"(release {f['reference']['lookalike_rate']:.2%}). Targets "
                  f"{'met' if evaluation['meets_targets'] else 'not met: not served by default'}.", ""]
    (Path(model_dir) / CARD).write_text("\n".join(lines))
