"""Pilot run that chose the attribute margins on separate seeds.

    python -m seedface.attributes_pilot --help

The work is done by seedface.eval.attribute_pilot; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.eval.attribute_pilot", run_name="__main__")
