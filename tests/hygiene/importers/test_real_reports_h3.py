"""Reports from DefectDojo's parser test data (unittests/scans/) that the importers mishandled
(each test failed before its fix)."""

import io
import json
from pathlib import Path

from hygiene.importers import get_parser
from hygiene.importers.base import Observation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def run(fmt: str, data: bytes) -> list[Observation]:
    return list(get_parser(fmt)(io.BufferedReader(io.BytesIO(data))))


def load(fmt: str, name: str) -> bytes:
    return (FIXTURES / fmt / name).read_bytes()


# --- trufflehog3 2.x (feeltheajf), v2's shape -----------------------------------------------

# A password hash of the scanned repository's users.json: removed in e03ffc84, added back in
# d08832f3, and still in the work tree (the file scan's entry, no commit).
_HASH = "641ae74c7472d5c907c66994b2289314"


def test_trufflehog3_2x_entropy_line_is_cut_to_the_high_entropy_string():
    """trufflehog3 2.x reports the whole line of the diff ("+      \\"password\\": \\"md5$…\\","),
    diff marker included, not the string: the same hash was three secrets (added, removed,
    in the work tree), none of them the value another scanner reports."""
    found = run(
        "trufflehog", load("trufflehog", "real_defectdojo_trufflehog3_2x_many_vulns_legacy.json")
    )
    assert all(obs.rule == "High entropy" for obs in found)
    assert all(obs.path == "fixtures/users.json" for obs in found)
    values = {obs.secret_value for obs in found}
    assert all(v and v[0] not in "+-" and "password" not in v for v in values)
    same = [obs for obs in found if obs.secret_value == _HASH]
    assert {obs.commit for obs in same} == {
        "e03ffc8412c8accfe3f65b35dffc5562d4734296",
        "d08832f3728730531b44fe42a67caf37a4f745e8",
        "",
    }
    # a pbkdf2 hash: its base64 digest, the run trufflehog3's search found
    assert "5p+eWvKhIKpiE8tTPyUazY6kF5JiiIrAm7z9IyVkXDI=" in values
    # eleven distinct hashes (six md5, five pbkdf2) in 27 lines
    assert len(values) == 11


def test_trufflehog3_2x_private_key_header_with_diff_marker_is_no_value():
    """trufflehog3 2.x's "RSA private key" rule matches the header line, reported as it stands
    in the diff ("+-----BEGIN RSA PRIVATE KEY-----"): as a value it made every key added
    anywhere one secret (and every key removed another)."""
    record = {
        "date": "2019-05-06 07:47:40",
        "path": "deploy/id_rsa",
        "branch": "origin/dev",
        "commit": "add deploy key\n",
        "commitHash": "466cdc94b4fcb0acd1904726a9b4de5c26e9125d",
        "reason": "RSA private key",
        "stringsFound": ["+-----BEGIN RSA PRIVATE KEY-----"],
    }
    (obs,) = run("trufflehog", json.dumps([record]).encode())
    assert obs.secret_value is None
    assert obs.secret_type == "private-key"
    assert obs.path == "deploy/id_rsa"


def test_truffleHog_v2_entropy_and_header_values_unchanged():
    """truffleHog v2 (dxa4481) reports the string itself, "High Entropy" with a capital E, and a
    header without a diff marker: those are read as before."""
    record = {
        "branch": "origin/master",
        "commit": "x",
        "commitHash": "288f35ed2e73145e3578207e896a4cf1600bea45",
        "date": "2021-01-30 19:50:09",
        "diff": "",
        "path": "a.py",
        "printDiff": "",
        "reason": "High Entropy",
        "stringsFound": ["3b35343aac5e46740f6e673521aa53dc", "-----BEGIN EC PRIVATE KEY-----"],
    }
    found = run("trufflehog", json.dumps(record).encode())
    assert [obs.secret_value for obs in found] == ["3b35343aac5e46740f6e673521aa53dc", None]
