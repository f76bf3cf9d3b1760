"""dlib descriptors of the labeled faces, for the identity-aware edit metric (``attributes_fit --identity``).

    python -m seedface.attributes_identity --help

The work is done by seedface.train.identity_metric; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.train.identity_metric", run_name="__main__")
