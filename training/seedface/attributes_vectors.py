"""Write vectors/attributes.json (edited w for fixed seeds and options) from a model directory.

    python -m seedface.attributes_vectors --help

The work is done by seedface.pipeline.attributes; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.pipeline.attributes", run_name="__main__")
