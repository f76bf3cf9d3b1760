"""Measure attribute control (success, identity kept, look-alikes, detection) and write the report and grid.

    python -m seedface.attributes_eval --help

The work is done by seedface.eval.attributes; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.eval.attributes", run_name="__main__")
