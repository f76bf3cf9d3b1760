"""Probe how the judged age changes as w moves (pairs of faces), for the age direction.

    python -m seedface.attributes_probe --help

The work is done by seedface.eval.attribute_probes; this module runs its entry point.
"""
import runpy

if __name__ == "__main__":
    runpy.run_module("seedface.eval.attribute_probes", run_name="__main__")
