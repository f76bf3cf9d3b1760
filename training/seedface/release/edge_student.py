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

from seedface.models.checkpoint import load_published
from seedface.models.config import ModelConfig
from seedface.release import manifest as mf
from seedface.release.edge_quant import quantize_edge
from seedface.release.export import write_model_dir
from seedface.release.writer import model_dir_writer
from seedface.train import trainckpt
from seedface.train.runenv import provenance


def export_edge_student(ckpt_path: Path, out: Path, reference: Path, model_id: str, version: str) -> dict:
    ck = trainckpt.load(ckpt_path)
    if ck["kind"] != "distill" or ck["config"].get("teacher_channels"):
        raise ValueError(f"{ckpt_path}: not an edge-student run (a distillation from the release wheel)")
    ref = mf.load(reference)
    config, mapping, _, student, _ = load_published(ck["state_dict"], ModelConfig.from_dict(ck["config"]))
    t = ck["train"]
    if t.get("demod_folded"):
        student.mark_demodulation_folded()
    mean = torch.tensor(np.asarray(ref["truncation"]["mean"], dtype=np.float32))
    prov = provenance("seedface.distill", int(t["step"]), float(t["elapsed_s"]), t.get("hardware", "unknown"),
                      source_from=t.get("teacher_source"), teacher=t.get("teacher_info") or {})
    prov["reference"] = {"id": ref["id"], "version": ref["version"]}
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
        return mf.load(tmp)
