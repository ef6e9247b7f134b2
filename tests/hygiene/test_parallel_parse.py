"""A large report parsed by two processes (services.staging, importers.split) stores exactly
what one process would, and reports errors at the same place in the whole report."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.fingerprints import fingerprint
from hygiene.importers.split import ByteRange, json_array_cut, relocate
from hygiene.models import Finding, ImportRun, Secret, SecretReference, Source, StagedFinding
from hygiene.services import staging
from hygiene.services.imports import ImportFailed, ImportRejected, import_report
from tests.hygiene import reports

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="two processes parse on PostgreSQL only (SQLite is the single-process default)",
    ),
]

NEAR_BYTE = re.compile(r"(?<=byte )(\d+)")
SERIAL, IN_TWO = 0, 1  # LEAKLINE_PARALLEL_PARSE_BYTES: off, or every report


@pytest.fixture
def forks(monkeypatch):
    """The child processes an import starts (each a subprocess.Popen)."""
    children = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        children.append(child)
        return child

    monkeypatch.setattr(staging.subprocess, "Popen", popen)
    return children


def child_program(monkeypatch, code: str) -> None:
    """Replace the parsing child with a Python program doing ``code``."""
    monkeypatch.setattr(staging, "CHILD_COMMAND", [sys.executable, "-c", code])


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


@pytest.mark.parametrize("held", [5, staging.REFERENCES_HELD])
def test_a_report_parsed_in_two_stores_what_one_process_stores(settings, forks, monkeypatch, held):
    monkeypatch.setattr(staging, "BATCH", 7)  # many batches each side
    # References written between batches (and while the child's rows are taken), or at the end.
    monkeypatch.setattr(staging, "REFERENCES_HELD", held)
    findings = report(300)
    # The same secrets in both halves, one finding repeated exactly (one finding), and values
    # that COPY text must escape (tabs, newlines, backslashes) in the child's half.
    findings[5].update(file="C:\\repo\\app\tsettings.py", commit="c" * 40)
    findings[250] = dict(findings[5])
    findings[260]["secret"] = findings[1]["secret"]
    findings[270]["file"] = "deploy/back\\slash\nprod.sh"  # a slash: the backslash stays
    findings[280]["description"] = 'quoted "AWS" key\\n'
    data = reports.gitleaks(findings)
    one, two = sources("one-process", "two-processes")

    serial = run_import(one, data, settings, SERIAL)
    assert not forks
    parallel = run_import(two, data, settings, IN_TWO)

    assert len(forks) == 1 and forks[0].returncode is not None
    assert parallel.status == serial.status == "succeeded"
    assert (parallel.received, parallel.created) == (serial.received, serial.created) == (300, 299)
    assert stored(two) == stored(one)
    assert Finding.objects.filter(source=two, path="deploy/back\\slash\nprod.sh").exists()
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
    assert not forks


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
    assert len(forks) == 1 and forks[0].returncode is not None
    one_run, two_run = serial.value.run, parallel.value.run
    assert two_run.status == one_run.status == "failed"
    assert two_run.error == one_run.error
    # "near byte N" is as near as the reader's 64 KB blocks: the same element, nearly the byte.
    assert NEAR_BYTE.sub("", two_run.error_location) == NEAR_BYTE.sub("", one_run.error_location)
    bytes_at = [int(m) for m in NEAR_BYTE.findall(one_run.error_location + two_run.error_location)]
    assert not bytes_at or abs(bytes_at[0] - bytes_at[1]) <= 65536
    assert not Finding.objects.exists() and not StagedFinding.objects.exists()


def test_a_trailing_comma_is_an_error_when_the_middle_falls_in_the_last_finding(settings, forks):
    # The first comma at depth 1 past the middle is the trailing one: a cut there would leave
    # two valid halves ("[…]" and "[]") of a report that is not valid JSON.
    findings = report(3, {2: {"description": "x" * 5000}})
    data = reports.gitleaks(findings)
    assert data.endswith(b"}]")
    data = data[:-1] + b",\n]"
    one, two = sources("one-process", "two-processes")
    with pytest.raises(ImportFailed) as serial:
        run_import(one, data, settings, SERIAL)
    with pytest.raises(ImportFailed) as parallel:
        run_import(two, data, settings, IN_TWO)
    assert not forks  # no cut: one process reads it, and finds the comma
    assert parallel.value.run.error == serial.value.run.error
    assert serial.value.run.error.startswith("malformed or truncated JSON")
    assert not Finding.objects.exists()


def test_the_first_of_two_errors_is_reported(settings, forks, source):
    findings = report(200, {10: {"rule": ""}, 190: {"rule": ""}})
    with pytest.raises(ImportFailed) as failed:
        run_import(source, reports.gitleaks(findings), settings, IN_TWO)
    assert failed.value.run.error_location == "$[10]"
    assert len(forks) == 1 and forks[0].returncode is not None


def test_the_first_of_two_findings_at_one_place_is_kept_as_in_one_process(settings, forks):
    # The same secret at the same place under two rules (gitleaks does that): one finding.
    findings = report(200)
    findings[180] = {**findings[20], "rule": "generic-api-key", "commit": "e" * 40}
    findings[20]["commit"] = "e" * 40
    data = reports.gitleaks(findings)
    one, two = sources("one-process", "two-processes")
    run_import(one, data, settings, SERIAL)
    run_import(two, data, settings, IN_TWO)
    assert len(forks) == 1
    assert stored(two) == stored(one)
    assert Finding.objects.get(source=two, path=findings[20]["file"]).rule == findings[20]["rule"]


def github_tokens(n: int) -> list[dict]:
    return [
        {"secret": f"ghp_{i:036d}", "rule": "github-pat", "file": f"f{i}.py", "line": 1}
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "findings, first, again",
    [
        pytest.param(report(200), 90, 190, id="aws-key-references-between"),
        # No references (no AWS key ids), so nothing ends the COPY before the child's rows
        # are taken: our last rows, formatted but not yet sent, still come before them.
        pytest.param(github_tokens(200), 98, 150, id="late-in-the-first-half"),
    ],
)
def test_a_secret_in_both_halves_is_typed_by_its_first_finding(
    settings, forks, source, findings, first, again
):
    # As in one process: the first row of a secret (the lowest staged id) gives its type.
    value = "7f3a" * 10  # no well-known prefix: each rule's own type
    findings[first].update(secret=value, rule="generic-api-key")
    findings[again].update(secret=value, rule="slack-webhook-url")
    run_import(source, reports.gitleaks(findings), settings, IN_TWO)
    assert len(forks) == 1
    assert Secret.objects.get(fingerprint=fingerprint(value)).secret_type == "api-key"


@pytest.mark.parametrize(
    "program",
    [
        pytest.param("import sys; sys.exit(3)", id="crash"),
        pytest.param("import signal; signal.pause()", id="hang"),
        pytest.param(
            "import pickle, sys;"
            " pickle.dump(('failed', 'RuntimeError', 'x.py:1'), sys.stdout.buffer)",
            id="bug",
        ),
        pytest.param("import sys; sys.stdout.write('garbage')", id="garbage"),
    ],
)
def test_when_the_second_process_fails_this_one_parses_its_half(
    settings, forks, monkeypatch, caplog, program
):
    child_program(monkeypatch, program)
    monkeypatch.setattr(staging, "CHILD_GRACE", 0.5)
    data = reports.gitleaks(report(200))
    one, two = sources("one-process", "two-processes")
    run_import(one, data, settings, SERIAL)
    started = time.monotonic()
    run = run_import(two, data, settings, IN_TWO)
    assert time.monotonic() - started < 20
    assert (run.status, run.received, run.created) == ("succeeded", 200, 200)
    assert stored(two) == stored(one)
    assert "the second process" in caplog.text and "parsing its half here" in caplog.text
    assert len(forks) == 1 and forks[0].returncode is not None  # stopped and reaped


def test_an_error_is_found_in_the_second_half_when_this_process_parses_it(
    settings, forks, monkeypatch
):
    child_program(monkeypatch, "import sys; sys.exit(3)")
    findings = report(200, {150: {"rule": ""}})
    with pytest.raises(ImportFailed) as failed:
        run_import(
            Source.objects.create(slug="s", name="s"), reports.gitleaks(findings), settings, IN_TWO
        )
    assert failed.value.run.error_location == "$[150]"


def test_rows_that_stop_coming_fail_the_run_and_say_so_in_the_log(
    settings, forks, monkeypatch, caplog, source
):
    child_program(
        monkeypatch, "import pickle, sys; pickle.dump(('done', 5), sys.stdout.buffer); sys.exit(9)"
    )
    caplog.set_level(logging.ERROR)
    with pytest.raises(ImportFailed) as failed:
        run_import(source, reports.gitleaks(report(200)), settings, IN_TWO)
    run = failed.value.run
    assert (run.status, run.error) == (
        "failed",
        "the report could not be read (unexpected structure)",
    )
    assert "EOFError at OtherHalf.take, reading the second half's rows" in caplog.text
    assert not Finding.objects.exists() and not StagedFinding.objects.exists()


@pytest.mark.parametrize("broken", ["program", "spool"])
def test_without_a_second_process_one_process_parses_it_all(
    settings, forks, monkeypatch, source, broken
):
    if broken == "program":
        monkeypatch.setattr(staging, "CHILD_COMMAND", ["/nonexistent/python"])
    else:  # room for the report's spool file, none left for the child's rows
        real, files = tempfile.TemporaryFile, []

        def no_room_after_the_report(*args, **kwargs):
            files.append(kwargs.get("dir"))
            if len(files) == 1:
                return real(*args, **kwargs)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(staging.tempfile, "TemporaryFile", no_room_after_the_report)
    run = run_import(source, reports.gitleaks(report(200)), settings, IN_TWO)
    assert (run.status, run.created) == ("succeeded", 200)
    assert not forks
    if broken == "spool":
        assert len(files) == 2


def test_no_room_to_spool_a_report_is_a_clear_refusal_and_records_nothing(
    settings, monkeypatch, source
):
    def disk_full(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", disk_full)
    with pytest.raises(ImportRejected) as refused:
        run_import(source, reports.gitleaks(report(20)), settings, IN_TWO)
    assert (refused.value.status, refused.value.message) == (
        507,
        "no room to receive the report; try again later",
    )
    assert not ImportRun.objects.exists()


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
    [
        b'{"a": [1, 2, 3]}',
        b"[1]",
        b"[[1, 2, 3, 4, 5, 6]]",
        b"not json, at all",
        b'[1, "a, b, c]',
        b'[1, "a b c d e f g h",\n ]',
        b"[" + b" " * 40 + b', {"a": 1}]',
        b'[1, "a", ' + b" " * 40 + b', {"a": 1}]',
    ],
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
