"""manifest.json's JSON Schema (src/shared/manifest.schema.json), shared with the TypeScript loader: the Python
checker understands every keyword it uses, and the committed manifests pass it."""
import json

import pytest

from seedface.paths import REPO
from seedface.release import manifest as mf

SUPPORTED = {"$schema", "$id", "$ref", "$defs", "title", "description", "allOf", "anyOf", "const", "enum", "type",
             "required", "properties", "additionalProperties", "items", "minItems", "minLength", "minimum", "pattern"}


def keywords(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(k)
            if k in ("properties", "$defs"):
                for sub in v.values():
                    keywords(sub, out)
            elif k not in ("const", "enum", "required", "title", "description"):
                keywords(v, out)
    elif isinstance(node, list):
        for v in node:
            keywords(v, out)
    return out


def test_the_checker_knows_every_keyword_of_the_schema():
    assert mf.SCHEMA_PATH == REPO / "src" / "shared" / "manifest.schema.json"
    assert keywords(mf.SCHEMA, set()) <= SUPPORTED


@pytest.mark.parametrize("model", sorted(p.parent.name for p in (REPO / "models").glob("*/manifest.json")))
def test_committed_manifests_pass(model):
    man = json.loads((REPO / "models" / model / "manifest.json").read_text())
    mf.check_schema(man)
    mf.validate(man, REPO / "models" / model)


def test_schema_errors_name_the_place():
    man = json.loads((REPO / "models" / "faces64" / "manifest.json").read_text())
    man["networks"]["student"]["levels"][0]["size"] = "16"
    with pytest.raises(mf.ManifestError, match=r"manifest\.networks\.student\.levels\[0\]\.size must be integer"):
        mf.check_schema(man)
    del man["networks"]["mapping"]
    with pytest.raises(mf.ManifestError, match="networks.mapping is required"):
        mf.validate(man)
