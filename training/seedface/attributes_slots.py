"""Measure an option's edit applied to some W+ slots only.

    python -m seedface.attributes_slots --help

The work is done by seedface.eval.attribute_slots; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.eval.attribute_slots", run_name="__main__")
