"""Label generated faces with face-api (age, gender, expression) for fitting attribute directions.

    python -m seedface.attributes_label --help

The work is done by seedface.eval.attribute_labels; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.eval.attribute_labels", run_name="__main__")
