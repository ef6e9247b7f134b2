"""Property tests: mutated GitHub, GitLab, Nosey Parker, SARIF and Leakline reports either parse
or raise ImportFormatError, never anything else; what parses is well formed."""

import copy
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.importers import github, gitlab, leakline, noseyparker, sarif
from hygiene.importers.base import ImportFormatError, Observation, RotationEvent
from hygiene.importers.leakline import SECRET_TYPES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

CASES = [
    (github, "github-secret-scanning/github_secrets_detection_report_many_vul.json"),
    (github, "github-secret-scanning/reopened.payload.json"),
    (github, "github-secret-scanning/real_elastic_integrations_alerts_one_a_line.jsonl"),
    (gitlab, "gitlab-secret-detection/gitlab_secret_detection_report_1_vuln_v15.json"),
    (gitlab, "gitlab-secret-detection/generated_report_v15.json"),
    (noseyparker, "noseyparker/noseyparker_many_vul.jsonl"),
    (noseyparker, "noseyparker/generated_report_v0_20.jsonl"),
    (noseyparker, "noseyparker/generated_report_v0_20.json"),
    (sarif, "sarif/sarif_simple.sarif"),
    (sarif, "sarif/generated_noseyparker.sarif"),
    (sarif, "sarif/generated_ggshield.sarif"),
    (sarif, "sarif/generated_semgrep.sarif"),
    (sarif, "sarif/tool_gitleaks_8_30_1_git_redact_20.sarif"),
    (sarif, "sarif/tool_ggshield_1_56_1_repo_incident_details.sarif"),
    (leakline, "leakline/findings_and_events.json"),
    (leakline, "leakline/events_first.json"),
]
IDS = [name.split("/")[1] for _, name in CASES]
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VALIDITY = {"valid", "invalid", "unknown"}
SEVERITY = {None, "critical", "high", "medium", "low", "info"}


def check(module, data: bytes) -> None:
    try:
        items = list(module.parse(io.BytesIO(data)))
    except ImportFormatError as exc:
        assert isinstance(str(exc), str)
        return
    for item in items:
        if isinstance(item, Observation):
            assert isinstance(item.rule, str)
            assert item.secret_type in SECRET_TYPES
            assert item.validity in VALIDITY
            assert item.severity in SEVERITY
            assert item.line is None or isinstance(item.line, int)
            assert item.committed_at is None or isinstance(item.committed_at, datetime)
            assert item.secret_value is None or isinstance(item.secret_value, str)
            for text in (item.path, item.repo, item.commit, item.url, item.author, item.title):
                assert isinstance(text, str)
            assert all(isinstance(v, str) for v in item.tool_ids.values())
        else:
            assert isinstance(item, RotationEvent)
            assert item.references


# --- byte-level mutations --------------------------------------------------------------------


@pytest.mark.parametrize(("module", "name"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_byte_flips(module, name, data):
    raw = bytearray((FIXTURES / name).read_bytes())
    flips = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), min_size=1, max_size=6
        )
    )
    for index, value in flips:
        raw[index] = value
    check(module, bytes(raw))


@pytest.mark.parametrize(("module", "name"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_truncations(module, name, data):
    raw = (FIXTURES / name).read_bytes()
    cut = data.draw(st.integers(0, len(raw)))
    check(module, raw[:cut])


@pytest.mark.parametrize(("module", "name"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_insertions_and_deletions(module, name, data):
    raw = (FIXTURES / name).read_bytes()
    at = data.draw(st.integers(0, len(raw)))
    if data.draw(st.booleans()):
        chunk = data.draw(
            st.one_of(
                st.binary(max_size=40),
                st.sampled_from(
                    [
                        b"[",
                        b"{",
                        b"]",
                        b"}",
                        b",",
                        b'"',
                        b"\\",
                        b"\x00",
                        b"\xff",
                        b"NaN",
                        b"1e999",
                        b'"\\ud800"',
                        b"[" * 3000,
                    ]
                ),
            )
        )
        raw = raw[:at] + chunk + raw[at:]
    else:
        length = data.draw(st.integers(1, 200))
        raw = raw[:at] + raw[at + length :]
    check(module, raw)


# --- JSON-level mutations --------------------------------------------------------------------

REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "0001-01-01T00:00:00Z",
            "2024-13-45",
            "active",
            "resolved",
            "REDACTED",
            "secret_detection",
            "2.1.0",
            "AKIAIOSFODNN7EXAMPLE",
            "file:///x%20y",
        ]
    ),
    st.just([]),
    st.just({}),
    st.just([[]]),
    st.just({"a": {"b": [1, "x", None]}}),
    st.lists(st.integers(), max_size=3),
)


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _mutate(doc, data):
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return copy.deepcopy(data.draw(REPLACEMENTS))
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if data.draw(st.booleans()):
            del parent[last]
        else:
            parent[last] = copy.deepcopy(data.draw(REPLACEMENTS))
    return doc


def _load_docs(name: str):
    text = (FIXTURES / name).read_text()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()], True
    return json.loads(text), False


@pytest.mark.parametrize(("module", "name"), CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_field_deletions_and_type_swaps(module, name, data):
    doc, is_lines = _load_docs(name)
    if is_lines:
        index = data.draw(st.integers(0, len(doc) - 1))
        doc[index] = _mutate(doc[index], data)
        raw = "\n".join(json.dumps(line) for line in doc).encode()
    else:
        raw = json.dumps(_mutate(doc, data)).encode()
    check(module, raw)


@SETTINGS
@given(data=st.data())
def test_webhook_mutations(data):
    payload = json.loads((FIXTURES / "github-secret-scanning/reopened.payload.json").read_text())
    payload = _mutate(payload, data)
    try:
        action, obs = github.parse_webhook(payload)
    except ImportFormatError:
        return
    assert isinstance(action, str) and action
    assert obs.secret_type in SECRET_TYPES
