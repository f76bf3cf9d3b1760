"""npm run models:ffhq: the pinned wheel's sha256 is checked before anything is converted, and the committed model
directory is what the import reproduces (its edge files are listed with the sha256 of the committed bytes)."""
import pytest

from seedface.release import manifest as mf, ffhq as models_ffhq
from seedface.release.convert import ConvertError
from seedface.paths import repo_root


def test_a_wheel_with_another_sha256_is_refused(tmp_path):
    fake = tmp_path / "random_face-2021.7.21.1-py3-none-any.whl"
    fake.write_bytes(b"PK\x03\x04 not the release")
    with pytest.raises(ConvertError, match="is not the pinned release's e5d10e2b"):
        models_ffhq.fetch_wheel(fake)
    assert fake.exists()  # a file the user gave is never deleted


def test_committed_edge_files_match_their_manifest():
    d = repo_root() / "models" / "ffhq"
    man = mf.load(d)
    mf.validate(man, d)  # the origin's fp32 files may be absent (produced_by), the edge files must be there
    for f in models_ffhq.EDGE_FILES:
        entry = next(e for e in man["files"] if e["path"] == f)
        assert "produced_by" not in entry and mf.sha256_file(d / f) == entry["sha256"]
    assert all(e.get("produced_by") == "npm run models:ffhq" for e in man["files"] if e["precision"] == "fp32")
    assert man["networks"]["student"]["edge_precision"] == "int8" and man["networks"]["mapping"]["edge_precision"] == "int8"
