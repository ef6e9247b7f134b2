"""A large report parsed by two processes (services.staging, importers.split) stores exactly
what one process would, and reports errors at the same place in the whole report."""

import io
import json
import logging
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.importers.split import ByteRange, json_array_cut, relocate
from hygiene.models import Finding, ImportRun, Secret, SecretReference, Source, StagedFinding
from hygiene.services import staging
from hygiene.services.imports import ImportFailed, import_report
from tests.hygiene import reports

pytestmark = pytest.mark.django_db

NEAR_BYTE = re.compile(r"(?<=byte )(\d+)")
SERIAL, IN_TWO = 0, 1  # LEAKLINE_PARALLEL_PARSE_BYTES: off, or every report


@pytest.fixture
def forks(monkeypatch):
    """Counts the child processes the import starts."""
    calls = []
    real_fork = os.fork

    def fork():
        calls.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    return calls


def report(n: int, extra: dict[int, dict] | None = None) -> list[dict]:
    findings = []
    for i in range(n):
        finding = {
            "secret": f"AKIA{i:016d}"[:20] if i % 3 == 0 else f"ghp_{i:036d}",
            "rule": "aws-access-token" if i % 3 == 0 else "github-pat",
            "file": f"svc{i % 7}/config_{i}.py",
            "line": i + 1,
        }
        finding.update((extra or {}).get(i, {}))
        findings.append(finding)
    return findings


def run_import(source, data: bytes, django_settings, threshold: int) -> ImportRun:
    django_settings.LEAKLINE_PARALLEL_PARSE_BYTES = threshold
    return import_report(source=source, format_key="gitleaks", stream=io.BytesIO(data), via="cli")


def stored(source) -> list[tuple]:
    return sorted(
        Finding.objects.filter(source=source).values_list(
            "secret__fingerprint",
            "location_key",
            "rule",
            "secret_type",
            "severity",
            "repo",
            "path",
            "line",
            "commit",
            "url",
            "author",
            "committed_at",
            "title",
            "tool_ids",
        )
    )


def sources(*slugs: str) -> list[Source]:
    return [
        Source.objects.create(slug=s, name=s, kind="scanner", default_format="gitleaks")
        for s in slugs
    ]


def test_a_report_parsed_in_two_stores_what_one_process_stores(settings, forks):
    findings = report(300)
    # The same secrets in both halves, one finding repeated exactly (one finding), and values
    # that COPY text must escape (tabs, newlines, backslashes) in the child's half.
    findings[5].update(file="C:\\repo\\app\tsettings.py", commit="c" * 40)
    findings[250] = dict(findings[5])
    findings[260]["secret"] = findings[1]["secret"]
    findings[270]["file"] = "deploy\\env\nprod.sh"
    findings[280]["description"] = 'quoted "AWS" key\\n'
    data = reports.gitleaks(findings)
    one, two = sources("one-process", "two-processes")

    serial = run_import(one, data, settings, SERIAL)
    assert forks == []
    parallel = run_import(two, data, settings, IN_TWO)

    assert forks == [1]
    assert parallel.status == serial.status == "succeeded"
    assert (parallel.received, parallel.created) == (serial.received, serial.created) == (300, 299)
    assert stored(two) == stored(one)
    assert Finding.objects.filter(source=two, path="deploy\\env\nprod.sh").exists()
    assert Secret.objects.count() == 299 - 1  # findings 1 and 260 share a secret
    aws = {f["secret"] for f in findings if f["rule"] == "aws-access-token"}
    assert SecretReference.objects.filter(kind="aws-access-key-id").count() == len(aws)
    assert not StagedFinding.objects.exists()


def test_small_reports_and_other_formats_stay_in_one_process(settings, forks, source):
    settings.LEAKLINE_PARALLEL_PARSE_BYTES = 10_000_000
    data = reports.gitleaks(report(50))
    run = import_report(source=source, format_key="gitleaks", stream=io.BytesIO(data), via="cli")
    assert run.created == 50
    settings.LEAKLINE_PARALLEL_PARSE_BYTES = IN_TWO
    th = Source.objects.create(slug="th", name="th", kind="scanner", default_format="trufflehog")
    lines = reports.trufflehog([{"secret": "ghp_" + "1" * 36, "file": "a.py"}])
    run = import_report(source=th, format_key="trufflehog", stream=io.BytesIO(lines), via="cli")
    assert run.created == 1
    assert forks == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d.replace(b'"StartLine": 181', b'"StartLine": "x"'), id="field"),
        pytest.param(lambda d: d[: len(d) - 400], id="truncated"),
        pytest.param(lambda d: d[:-1] + b"] trailing", id="trailing-garbage"),
        pytest.param(
            lambda d: d.replace(b'"RuleID": "github-pat"', b'"RuleID": ""', 1), id="early"
        ),
        pytest.param(
            lambda d: d.replace(b'"StartLine": 181', b'"StartLine": ' + b"[" * 200), id="deep"
        ),
    ],
)
def test_an_error_is_reported_where_one_process_reports_it(settings, forks, mutate):
    data = mutate(reports.gitleaks(report(200)))
    one, two = sources("one-process", "two-processes")
    with pytest.raises(ImportFailed) as serial:
        run_import(one, data, settings, SERIAL)
    with pytest.raises(ImportFailed) as parallel:
        run_import(two, data, settings, IN_TWO)
    assert forks == [1]
    one_run, two_run = serial.value.run, parallel.value.run
    assert two_run.status == one_run.status == "failed"
    assert two_run.error == one_run.error
    # "near byte N" is as near as the reader's 64 KB blocks: the same element, nearly the byte.
    assert NEAR_BYTE.sub("", two_run.error_location) == NEAR_BYTE.sub("", one_run.error_location)
    bytes_at = [int(m) for m in NEAR_BYTE.findall(one_run.error_location + two_run.error_location)]
    assert not bytes_at or abs(bytes_at[0] - bytes_at[1]) <= 65536
    assert not Finding.objects.exists() and not StagedFinding.objects.exists()


def test_the_first_of_two_errors_is_reported(settings, forks, source):
    findings = report(200, {10: {"rule": ""}, 190: {"rule": ""}})
    with pytest.raises(ImportFailed) as failed:
        run_import(source, reports.gitleaks(findings), settings, IN_TWO)
    assert failed.value.run.error_location == "$[10]"
    assert forks == [1]


def test_a_crash_in_the_second_process_fails_the_run_without_quoting_it(
    settings, forks, source, monkeypatch, caplog
):
    real = staging.Stager._add_observation

    def crash_on(stager, obs):
        if obs.path == "svc0/config_189.py":
            raise RuntimeError(f"bug while reading {obs.secret_value}")
        return real(stager, obs)

    monkeypatch.setattr(staging.Stager, "_add_observation", crash_on)
    caplog.set_level(logging.ERROR)
    findings = report(200)
    with pytest.raises(ImportFailed) as failed:
        run_import(source, reports.gitleaks(findings), settings, IN_TWO)
    assert forks == [1]
    run = failed.value.run
    assert (run.status, run.error) == (
        "failed",
        "the report could not be read (unexpected structure)",
    )
    assert "RuntimeError at " in caplog.text and "test_parallel_parse.py" in caplog.text
    assert findings[189]["secret"] not in caplog.text + run.error
    assert not Finding.objects.exists() and not StagedFinding.objects.exists()


# -- the cut itself ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab,[]{}"\\\n :é'),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet='k,]"\\', max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(elements=st.lists(json_values, min_size=2, max_size=12), where=st.floats(0.01, 0.99))
def test_the_cut_falls_between_two_top_level_elements(tmp_path_factory, elements, where):
    data = json.dumps(elements, indent=None if where < 0.5 else 1, ensure_ascii=False).encode()
    path = tmp_path_factory.mktemp("cut") / "report.json"
    path.write_bytes(data)
    with path.open("rb") as f:
        cut = json_array_cut(f.fileno(), len(data), int(len(data) * where))
        if cut is None:
            return
        first = io.BufferedReader(ByteRange(f.fileno(), 0, cut, suffix=b"]")).read()
        second = io.BufferedReader(ByteRange(f.fileno(), cut + 1, len(data), prefix=b"[")).read()
    assert json.loads(first) + json.loads(second) == elements
    assert json.loads(first) and json.loads(second)


@pytest.mark.parametrize(
    "data",
    [b'{"a": [1, 2, 3]}', b"[1]", b"[[1, 2, 3, 4, 5, 6]]", b"not json, at all", b'[1, "a, b, c]'],
)
def test_no_cut_where_there_are_no_two_top_level_elements_after_the_middle(tmp_path, data):
    path = tmp_path / "r.json"
    path.write_bytes(data)
    with path.open("rb") as f:
        assert json_array_cut(f.fileno(), len(data), len(data) // 2) is None


def test_locations_in_the_second_half_are_moved_to_the_whole_report():
    assert relocate("$[3].StartLine", 100, 5000) == "$[103].StartLine"
    assert relocate("near byte 12 (after $[4])", 100, 5000) == "near byte 5012 (after $[104])"
    assert relocate("line 3", 100, 5000) == "line 3"
