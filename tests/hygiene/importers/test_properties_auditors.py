"""Property tests: mutated auditor/rotator reports parse or raise ImportFormatError, nothing
else, and an error never quotes the input."""

import copy
import gzip
import io
import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.importers import aws_cloudtrail, aws_iam, azure_storage, prowler, vault_audit
from hygiene.importers.base import ImportFormatError, Observation, RotationEvent

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
CANARY = "CANARYs3cr3tVALUE9x"

PARSERS = {
    "prowler": prowler.parse,
    "aws-iam-credential-report": partial(aws_iam.parse, now=NOW),
    "azure-storage-accounts": partial(azure_storage.parse, now=NOW),
    "aws-cloudtrail": aws_cloudtrail.parse,
    "vault-audit": partial(vault_audit.parse, kv_mounts=["secret", "kv1"]),
}
SAMPLES = {key: sorted(p for p in (FIXTURES / key).iterdir() if p.is_file()) for key in PARSERS}
CASES = [(key, path) for key, paths in SAMPLES.items() for path in paths]
IDS = [f"{key}/{path.name}" for key, path in CASES]

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run(key: str, data: bytes):
    """Parse; only ImportFormatError may escape, and items must be well-formed."""
    try:
        items = list(PARSERS[key](io.BytesIO(data)))
    except ImportFormatError as exc:
        assert isinstance(exc.message, str) and isinstance(exc.location, str)
        return exc
    for item in items:
        assert isinstance(item, Observation | RotationEvent)
        if isinstance(item, Observation):
            assert item.category == "posture"
            assert item.secret_value is None and item.secret_sha1 is None
            assert isinstance(item.passed, bool)
        else:
            assert item.references
            assert item.action in {
                "rotated",
                "revoked",
                "rotation_failed",
                "rotation_started",
                "created",
            }
    return items


def raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def test_every_fixture_parses():
    for key, path in CASES:
        result = run(key, path.read_bytes())
        assert not isinstance(result, ImportFormatError), (key, path.name, result)


@pytest.mark.parametrize(("key", "path"), CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_byte_flips(key, path, data):
    original = bytearray(raw(path))
    flips = data.draw(st.lists(st.integers(0, len(original) - 1), min_size=1, max_size=8))
    for pos in flips:
        original[pos] = data.draw(st.integers(0, 255))
    run(key, bytes(original))


@pytest.mark.parametrize(("key", "path"), CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_truncations(key, path, data):
    original = path.read_bytes()
    cut = data.draw(st.integers(0, len(original)))
    run(key, original[:cut])


@pytest.mark.parametrize(("key", "path"), CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_insertions_of_structural_characters(key, path, data):
    original = bytearray(raw(path))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(original)))
        chunk = data.draw(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b",", b";", b"\n", b"\\"]))
        original[pos:pos] = chunk
    run(key, bytes(original))


# --- structured mutations of JSON documents ----------------------------------------------

JSON_CASES = [
    (key, path) for key, path in CASES if path.suffix in (".json", ".gz") and key != "vault-audit"
]
# Files of JSON lines only (a syslog export, its header on each line, has byte mutations above).
JSONL_CASES = [
    (key, path)
    for key, path in CASES
    if path.suffix in (".jsonl", ".log")
    and all(
        line.lstrip().startswith("{") for line in raw(path).decode().splitlines() if line.strip()
    )
]

REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.just(CANARY),
    st.just([]),
    st.just({}),
    st.just([CANARY]),
    st.just({"k": CANARY}),
    st.just("2024-13-45T99:99:99Z"),
    st.just("1.99:99:99"),
).map(copy.deepcopy)  # st.just hands out one object: copy it so mutations don't alias


def _paths(node, prefix=()):
    """Every (path, value) in a JSON document."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _mutate(doc, data):
    paths = [p for p, _ in _paths(doc) if p]
    for _ in range(data.draw(st.integers(1, 5))):
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)  # field deletion
            else:
                parent[path[-1]] = data.draw(REPLACEMENTS)  # type swap
        except (KeyError, IndexError, TypeError):
            continue
    return doc


def _check_no_canary(result):
    if isinstance(result, ImportFormatError):
        assert CANARY not in str(result)


@pytest.mark.parametrize(("key", "path"), JSON_CASES, ids=[f"{k}/{p.name}" for k, p in JSON_CASES])
@FAST
@given(data=st.data())
def test_json_field_mutations(key, path, data):
    doc = _mutate(json.loads(raw(path)), data)
    indent = data.draw(st.sampled_from([None, 2]))
    _check_no_canary(run(key, json.dumps(doc, indent=indent).encode()))


@pytest.mark.parametrize(
    ("key", "path"), JSONL_CASES, ids=[f"{k}/{p.name}" for k, p in JSONL_CASES]
)
@FAST
@given(data=st.data())
def test_json_lines_field_mutations(key, path, data):
    lines = [json.loads(line) for line in raw(path).decode().splitlines() if line.strip()]
    index = data.draw(st.integers(0, len(lines) - 1))
    lines[index] = _mutate(lines[index], data)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    _check_no_canary(run(key, text.encode()))


# --- CSV mutations ----------------------------------------------------------------------------

CSV_CASES = [(key, path) for key, path in CASES if path.suffix == ".csv"]


@pytest.mark.parametrize(("key", "path"), CSV_CASES, ids=[f"{k}/{p.name}" for k, p in CSV_CASES])
@FAST
@given(data=st.data())
def test_csv_cell_mutations(key, path, data):
    sep = ";" if key == "prowler" else ","
    rows = [line.split(sep) for line in path.read_text().splitlines()]
    for _ in range(data.draw(st.integers(1, 6))):
        r = data.draw(st.integers(0, len(rows) - 1))
        c = data.draw(st.integers(0, len(rows[r]) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate", "quote"]))
        if action == "replace":
            rows[r][c] = data.draw(
                st.sampled_from(
                    [CANARY, "", "N/A", "true", "false", "FAIL", "PASS", "not-a-date", "<x>"]
                )
            )
        elif action == "delete":
            del rows[r][c]
        elif action == "duplicate":
            rows[r].insert(c, rows[r][c])
        else:
            rows[r][c] = '"' + rows[r][c]
        if not rows[r]:
            rows[r] = [""]
    text = "\n".join(sep.join(row) for row in rows)
    _check_no_canary(run(key, text.encode()))


@FAST
@given(payload=st.binary(max_size=300))
def test_random_bytes_every_parser(payload):
    for key in PARSERS:
        run(key, payload)
