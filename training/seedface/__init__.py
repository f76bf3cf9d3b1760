"""seedface: any seed to a face, the Python half (training, export, import, evaluation).

Packages, one job each: ``models`` (networks and model facts), ``pipeline`` (seed -> latents -> image, the twin
of src/shared/), ``train`` (teacher and distillation loops), ``release`` (export, quantization, importers,
manifest, model-directory writer), ``eval`` (metrics and reports). The modules directly in this package are the
commands (``python -m seedface.<command>``): they parse flags and call those libraries."""

__version__ = "0.1.0"
