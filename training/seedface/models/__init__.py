"""PyTorch models: mapping network, StyleGAN2 teacher, MobileStyleGAN student, StyleGAN2 discriminator."""
from .config import PRESETS, ModelConfig, preset
from .discriminator import Discriminator
from .mapping import MappingNetwork
from .student import StudentSynthesis
from .teacher import TeacherSynthesis


def build(config: ModelConfig, teacher: bool = True, student: bool = True):
    """(mapping, teacher|None, student|None) for a config, randomly initialised (seed torch yourself)."""
    m = MappingNetwork(config.style_dim, config.n_mlp)
    t = (TeacherSynthesis(config.resolution, config.style_dim, config.teacher_channels)
         if teacher and config.teacher_channels else None)
    s = StudentSynthesis(config.style_dim, config.student_channels) if student and config.student_channels else None
    return m, t, s


__all__ = ["ModelConfig", "PRESETS", "preset", "build", "MappingNetwork", "TeacherSynthesis", "StudentSynthesis",
           "Discriminator"]
