"""Model configurations (presets) shared by training, export and import."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class ModelConfig:
    resolution: int
    style_dim: int
    n_mlp: int
    teacher_channels: list[int] | None = field(default=None)
    student_channels: list[int] | None = field(default=None)

    def __post_init__(self):
        log = math.log2(self.resolution)
        if self.resolution < 8 or log != int(log):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        n_levels = int(log) - 1  # 4, 8, ..., resolution
        if self.teacher_channels is not None:
            self.teacher_channels = [int(c) for c in self.teacher_channels]
            if len(self.teacher_channels) != n_levels:
                raise ValueError(f"teacher_channels needs {n_levels} entries for {self.resolution}px "
                                 f"(4x4 .. {self.resolution}), got {len(self.teacher_channels)}")
        if self.student_channels is not None:
            self.student_channels = [int(c) for c in self.student_channels]
            if len(self.student_channels) != n_levels - 1:
                raise ValueError(f"student_channels needs {n_levels - 1} entries for {self.resolution}px, "
                                 f"got {len(self.student_channels)}")
            for c in self.student_channels[:-1]:
                if c % 4:
                    raise ValueError(f"student channels feeding an IDWT upsample must be divisible by 4, got {c}")

    @property
    def student_n_w(self) -> int:
        return 3 * (len(self.student_channels) - 1) + 2

    @property
    def teacher_n_w(self) -> int:
        return 2 * int(math.log2(self.resolution)) - 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: d.get(k) for k in ("resolution", "style_dim", "n_mlp", "teacher_channels", "student_channels")})


def student_slots(n_blocks: int) -> list[int]:
    """Teacher W+ slot feeding each student slot, so both networks see the same w at the same layer:
    student conv1/to_img1 <- teacher conv1/to_rgb1; block i: up+conv1, conv2, to_img <- the teacher block i's
    conv1, conv2, to_rgb slots (2i+1, 2i+2, 2i+3)."""
    return [0, 1] + [j for i in range(n_blocks) for j in (2 * i + 1, 2 * i + 2, 2 * i + 3)]


PRESETS: dict[str, ModelConfig] = {
    # The official tiny test configuration (matches ../shared/notes/official-ckpt-keys-tiny.txt).
    "tiny": ModelConfig(64, 64, 4, [64, 64, 32, 16, 8], [64, 64, 32, 16]),
    "default128": ModelConfig(128, 256, 8, [256, 256, 256, 128, 64, 32], [256, 256, 256, 128, 64]),
    "small64": ModelConfig(64, 256, 8, [256, 256, 128, 64, 32], [256, 256, 128, 64]),
    "ffhq1024": ModelConfig(1024, 512, 8, [512] * 5 + [256, 128, 64, 32], [512] * 5 + [256, 128, 64]),
}


def preset(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    c = PRESETS[name]
    return ModelConfig(c.resolution, c.style_dim, c.n_mlp,
                       list(c.teacher_channels) if c.teacher_channels else None,
                       list(c.student_channels) if c.student_channels else None)
