"""Run directory bookkeeping: progress lines, CSV + JSON logs of the loss history, time budget."""
from __future__ import annotations

import csv
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path


class RunLog:
    """Appends one row per logged step to <run>/log.csv and keeps the whole history (also in the checkpoint,
    so a resumed run continues the same curves)."""

    def __init__(self, run_dir: Path, history: list[dict] | None = None, name: str = "log"):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / f"{name}.csv"
        self.json_path = self.run_dir / f"{name}.json"
        self.history: list[dict] = list(history or [])
        self._fields: list[str] | None = None
        self._rewrite_csv()

    def _rewrite_csv(self) -> None:
        fields = sorted({k for row in self.history for k in row}, key=_field_order)
        self._fields = fields or None
        with open(self.csv_path, "w", newline="") as f:
            if fields:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(self.history)

    def add(self, row: dict) -> None:
        row = {k: (float(v) if isinstance(v, (int, float)) and k != "step" else v) for k, v in row.items()}
        self.history.append(row)
        if self._fields is None or any(k not in self._fields for k in row):
            self._rewrite_csv()
        else:
            with open(self.csv_path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self._fields).writerow(row)

    def write_json(self, summary: dict) -> None:
        self.json_path.write_text(json.dumps({"summary": summary, "history": self.history}, indent=1,
                                             default=_jsonable))


def _field_order(k: str):
    return (0 if k == "step" else 1 if k in ("kimg", "elapsed_s") else 2, k)


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return str(x)


def mean_of(values: list) -> float:
    """Mean of numbers or 0-d tensors (a device tensor is read back here, at log time, not every step)."""
    return sum(float(v) for v in values) / len(values)


def means(acc: dict[str, list]) -> dict[str, float]:
    """Per-key means of the rows since the last log; a non-finite loss stops the run before it is saved."""
    out = {k: mean_of(v) for k, v in acc.items()}
    bad = [k for k, v in out.items() if not math.isfinite(v)]
    if bad:
        raise FloatingPointError(f"non-finite {', '.join(bad)}: stopping without saving over the last good checkpoint")
    return out


class Budget:
    """Wall-clock budget (minutes, optional) and step limit (optional); `elapsed` continues across resumes."""

    def __init__(self, minutes: float | None, max_steps: int | None, already_elapsed: float = 0.0):
        self.minutes, self.max_steps = minutes, max_steps
        self.start = time.time()
        self.before = already_elapsed

    @property
    def session_s(self) -> float:
        return time.time() - self.start

    @property
    def elapsed(self) -> float:
        return self.before + self.session_s

    def done(self, step: int) -> bool:
        if self.max_steps is not None and step >= self.max_steps:
            return True
        return self.minutes is not None and self.session_s >= self.minutes * 60

    def fraction(self, step: int) -> float:
        parts = []
        if self.max_steps:
            parts.append(step / self.max_steps)
        if self.minutes:
            parts.append(self.session_s / (self.minutes * 60))
        return min(1.0, max(parts)) if parts else 0.0


def progress(prefix: str, step: int, budget: Budget, values: dict, extra: str = "") -> None:
    frac = budget.fraction(step)
    bar = "#" * int(frac * 20) + "." * (20 - int(frac * 20))
    vals = " ".join(f"{k} {v:.4g}" for k, v in values.items() if isinstance(v, (int, float)))
    print(f"[{prefix}] [{bar}] step {step} {budget.session_s:6.0f}s {vals} {extra}".rstrip(),
          file=sys.stderr, flush=True)


class StopOnSignal:
    """Graceful stop for training loops: the first Ctrl-C (SIGINT) or SIGTERM lets the current step finish and ends
    the loop, so the run saves its checkpoint, plots and summary as at the end of its budget; a second one
    interrupts at once. Use as ``with StopOnSignal("distill") as stop: while not budget.done(step) and not stop:``."""

    def __init__(self, name: str):
        self.name = name
        self.signal: str | None = None
        self._previous: dict = {}

    def __bool__(self) -> bool:
        return self.signal is not None

    def _handle(self, signum, frame):
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        print(f"\n[{self.name}] {self.signal}: stopping after this step to save a checkpoint "
              f"(again to abort without saving)", file=sys.stderr, flush=True)

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def exit_if_stopped(self, step: int, run_dir) -> None:
        """After the run has written everything: exit with status 130 and the resume command if a signal came."""
        if self:
            print(f"[{self.name}] stopped by {self.signal} at step {step}; continue with --resume --run {run_dir}",
                  file=sys.stderr, flush=True)
            raise SystemExit(130)


class Every:
    """due() is true at most once per `minutes`, counted from creation or from the last time it was true
    (periodic grids and checkpoints of a training loop)."""

    def __init__(self, minutes: float):
        self.seconds = minutes * 60
        self.last = time.time()

    def due(self) -> bool:
        now = time.time()
        if now - self.last <= self.seconds:
            return False
        self.last = now
        return True
