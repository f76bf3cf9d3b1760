"""Training checkpoints (`seedface-train/1`): the published-layout weights for inference plus everything a
resumed run needs (raw modules, EMA, discriminator, optimisers, step, RNG states, log history)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

FORMAT = "seedface-train/1"


def rng_state(gen: torch.Generator) -> dict:
    s = {"gen": gen.get_state(), "gen_device": str(gen.device), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(gen: torch.Generator, s: dict) -> None:
    # A CUDA generator's state does not fit a CPU generator (and back): a run moved to another device (e.g. a
    # GPU checkpoint continued on CPU) keeps its fresh generator; everything else still resumes.
    if torch.device(s.get("gen_device", "cpu")).type == gen.device.type:
        gen.set_state(s["gen"])
    else:
        print(f"[checkpoint] sampling generator saved on {s.get('gen_device')}, now on {gen.device}: "
              f"it restarts from this run's seed", file=sys.stderr)
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available() and len(s["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(s["cuda"])


def to_cpu(obj):
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def save(path: Path, kind: str, config: dict, published: dict, train: dict) -> Path:
    """Atomic write (temp file + rename), so a run killed while saving keeps its previous checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "kind": kind, "config": config, "state_dict": to_cpu(published),
                "train": to_cpu(train)}, tmp)
    os.replace(tmp, path)
    return path


def load(path: Path) -> dict:
    ck = torch.load(Path(path), map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} training checkpoint")
    return ck


def load_optimizers(optimizers: dict, train: dict) -> None:
    """Optimiser states if the checkpoint has them (a slim checkpoint does not: Adam restarts)."""
    for name, opt in optimizers.items():
        if name in train:
            opt.load_state_dict(train[name])
        else:
            print(f"[checkpoint] no {name} state (slim checkpoint): the optimiser restarts", file=sys.stderr)


def slim(ck: dict, keep_published: tuple[str, ...] | None = None) -> dict:
    """A smaller copy for transfer: no optimiser states, training-only weights in bfloat16 (resuming from it
    continues approximately, not bit-exactly); keep_published restricts the published part to these prefixes."""
    train = {k: v for k, v in ck["train"].items() if not k.startswith("opt")}
    for k in ("mapping", "synth", "D"):
        if k in train:
            train[k] = {n: (t.to(torch.bfloat16) if t.is_floating_point() else t) for n, t in train[k].items()}
    sd = ck["state_dict"]
    if keep_published is not None:
        sd = {k: v for k, v in sd.items() if k.startswith(keep_published)}
    return {**ck, "state_dict": sd, "train": {**train, "slim": True}}


def transfer(ck: dict, shared: dict, dtype: torch.dtype | None = None) -> dict:
    """A distillation checkpoint for transfer without what its teacher holds: the published weights bit-identical
    to `shared` (teacher_source.teacher_weights: the frozen mapping, the levels copied from the release) are left
    out and listed in train["from_teacher"]; no optimiser states, no discriminator; the rest of the published
    weights in `dtype` (None: as saved). `complete` puts the shared weights back from the same teacher, or from a
    more precise copy of it (the release wheel for its 16-bit pack)."""
    sd = ck["state_dict"]
    drop = sorted(k for k, v in sd.items() if k in shared and v.shape == shared[k].shape
                  and torch.equal(v, shared[k].to(v.dtype)))
    keep = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
            for k, v in sd.items() if k not in drop}
    train = {k: v for k, v in ck["train"].items() if not k.startswith("opt") and k != "D"}
    return {**ck, "state_dict": keep, "train": {**train, "slim": True, "from_teacher": drop}}


def complete(ck: dict, shared: dict) -> dict:
    """A transfer checkpoint (see `transfer`) with the weights it shares with its teacher put back (float32)."""
    need = ck["train"].get("from_teacher") or []
    missing = [k for k in need if k not in shared]
    if missing:
        raise ValueError(f"this checkpoint takes {len(need)} weights from its teacher, but the teacher given lacks "
                         f"{', '.join(missing[:5])}: resume it with the teacher it was distilled from")
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in ck["state_dict"].items()}
    sd.update({k: shared[k].detach().float().clone() for k in need})
    train = {k: v for k, v in ck["train"].items() if k != "from_teacher"}
    return {**ck, "state_dict": sd, "train": train}


def ema_only(ck: dict) -> dict:
    """A copy without the raw generator (train["mapping"], train["synth"]): the published state_dict already holds
    the EMA generator in fp32, and a resumed run starts its raw generator from it (train["raw_from_ema"])."""
    train = {k: v for k, v in ck["train"].items() if k not in ("mapping", "synth")}
    return {**ck, "train": {**train, "raw_from_ema": True}}


def is_training_checkpoint(path: Path) -> bool:
    try:
        return load(path) is not None
    except Exception:
        return False
