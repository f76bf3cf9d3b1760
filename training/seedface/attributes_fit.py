"""Fit the attribute directions in w (InterFaceGAN-style) from the labels and write attributes.json.

    python -m seedface.attributes_fit --help

The work is done by seedface.train.attribute_directions; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.train.attribute_directions", run_name="__main__")
