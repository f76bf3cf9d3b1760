"""Label edited faces (moved along the age direction) with face-api, and fit the age classes' start weights.

    python -m seedface.attributes_edits --help

The work is done by seedface.eval.attribute_edits; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.eval.attribute_edits", run_name="__main__")
