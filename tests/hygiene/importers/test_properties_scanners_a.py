"""Property tests: mutated gitleaks/trufflehog/detect-secrets/ggshield samples either parse or
raise ImportFormatError (located, never quoting a secret) — nothing else escapes parse()."""

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.importers import detect_secrets, ggshield, gitleaks, trufflehog
from hygiene.importers.base import ImportFormatError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

SAMPLES = [
    (gitleaks, "gitleaks/gitleaks8_many.json"),
    (gitleaks, "gitleaks/json_simple.json"),
    (gitleaks, "gitleaks/redacted_data_many.json"),
    (gitleaks, "gitleaks/version_7.5.0.json"),
    (gitleaks, "gitleaks/csv_simple.csv"),
    (gitleaks, "gitleaks/real_gitleaks_action_issue44_v7_verbose_redacted_banner.txt"),
    (gitleaks, "gitleaks/real_gitleaks_issue65_v1_verbose_stdout.txt"),
    (trufflehog, "trufflehog/README_example_output.jsonl"),
    (trufflehog, "trufflehog/v3_git.json"),
    (detect_secrets, "detect-secrets/many_findings.json"),
    (detect_secrets, "detect-secrets/tool_detect_secrets_1_4_0_audit_report.json"),
    (ggshield, "ggshield/many_findings.json"),
    (ggshield, "ggshield/one_finding.json"),
    (ggshield, "ggshield/tool_ggshield_1_56_1_repo_all_secrets.json"),
]
JSON_SAMPLES = [(m, n) for m, n in SAMPLES if not n.endswith((".csv", ".txt"))]
IDS = [n for _, n in SAMPLES]

# Values that must never be quoted by an error message.
SECRETS = [
    "secretAWSsecret",
    "dfjksdjfs3294dfjlsdaf213",
    "AKIAIOSFODNN7EXAMPLE",
    "AKIAYVP4CIPPERUVIFXG",
    "QUtJQVlWUDRDSVBQRVJVVklGWEc=",
    "admin:admin@",
    "bd564db5d5cc358eb0e3523d3e03041739f230d5",
    "ljel3*ji5",
    "AKIALALEMEL33243OLIA",
    "AKIAZ7FAKEEXAMPLE2QX",
    "q8Vt2mXp9LzR4wBn7KcY1dHs6JfGa3Te",
    "sk_live_51FakeStripeKey000000000",
    "xoxb-123456789012-210987654321-AbCdEfGhIjKlMnOpQrStUvWx",
]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(module, data: bytes) -> None:
    try:
        items = list(module.parse(io.BytesIO(data)))
    except ImportFormatError as exc:
        assert exc.location, "an error must say where"
        for secret in SECRETS:
            assert secret not in str(exc)
    else:
        for obs in items:
            assert isinstance(obs.rule, str) and obs.rule
            assert obs.line is None or isinstance(obs.line, int)
            assert obs.committed_at is None or obs.committed_at.tzinfo is not None


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(("module", "name"), SAMPLES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_byte_flips(module, name, data):
    raw = bytearray(sample(name))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    check(module, bytes(raw))


@pytest.mark.parametrize(("module", "name"), SAMPLES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_truncations_and_insertions(module, name, data):
    raw = sample(name)
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut] if data.draw(st.booleans()) else raw[cut:]
    pos = data.draw(st.integers(0, len(raw)))
    junk = data.draw(
        st.one_of(
            st.binary(max_size=20),
            st.sampled_from([b"[", b"{", b"]", b"}", b'"', b"\\", b",", b"\n", b"\x00", b"null"]),
            st.text(max_size=10).map(str.encode),
        )
    )
    check(module, raw[:pos] + junk + raw[pos:])


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "REDACTED", "abc...", "2021-13-45", "FILE", "commit", "valid"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node, prefix=()):
    """Every (container, key) pair in a parsed JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _paths(value, (*prefix, index))


def _documents(name: str) -> tuple[str, object]:
    raw = sample(name)
    if name.endswith(".jsonl") or name == "trufflehog/v3_git.json":
        return "lines", [json.loads(line) for line in raw.splitlines() if line.strip()]
    return "json", json.loads(raw)


def _dump(kind: str, doc) -> bytes:
    if kind == "lines":
        return b"\n".join(json.dumps(item).encode() for item in doc) + b"\n"
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("module", "name"), JSON_SAMPLES, ids=[n for _, n in JSON_SAMPLES])
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_field_deletions_and_type_swaps(module, name, data):
    kind, doc = _documents(name)
    for _ in range(data.draw(st.integers(1, 4))):
        places = list(_paths(doc))
        if not places:
            break
        container, key = data.draw(st.sampled_from(places))
        if data.draw(st.booleans()) and isinstance(container, dict):
            del container[key]
        else:
            container[key] = data.draw(JSON_VALUES)
    check(module, _dump(kind, doc))


@pytest.mark.parametrize(("module", "name"), JSON_SAMPLES, ids=[n for _, n in JSON_SAMPLES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES)
def test_whole_document_replaced(module, name, value):
    check(module, json.dumps(value).encode())


@pytest.mark.parametrize("module", [gitleaks, trufflehog, detect_secrets, ggshield])
@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(module, raw):
    check(module, raw)


def test_unicode_edge_cases():
    for module in (gitleaks, trufflehog, detect_secrets, ggshield):
        for raw in (
            b"\xef\xbb\xbf[]",
            b'["\\ud800"]',
            b'{"results": {"\\udc00": []}}',
            b"\xef\xbb\xbf",
            b"\xfe\xff\x00[",
        ):
            check(module, raw)
