"""A review of the two-process parse (services.staging, services.parse_child, importers.split):
errors at the edges of the halves, a report with a BOM, repeats across the halves, a child that
stops answering after writing rows — each imported as one process and as two, which must store
the same and fail the same way."""

import json
import os
import tempfile
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from hygiene.importers.split import json_array_cut
from hygiene.models import Finding, ImportRun
from hygiene.services import staging
from hygiene.services.imports import ImportFailed
from tests.hygiene import reports, test_parallel_parse
from tests.hygiene.test_parallel_parse import (
    IN_TWO,
    NEAR_BYTE,
    SERIAL,
    child_program,
    report,
    run_import,
    sources,
    stored,
)

forks = test_parallel_parse.forks  # the fixture: the child processes an import starts

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="two processes parse on PostgreSQL only (SQLite is the single-process default)",
    ),
]


def second_half_starts_at(data: bytes) -> int:
    """The index of the first finding of the report's second half, where an import cuts it."""
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        cut = json_array_cut(f.fileno(), len(data), len(data) // 2)
    assert cut is not None
    return len(json.loads(data[:cut].decode("utf-8-sig") + "]"))


def imported(source, data: bytes, django_settings, threshold: int) -> ImportRun:
    try:
        return run_import(source, data, django_settings, threshold)
    except ImportFailed as failed:
        return failed.run


def as_one_and_as_two(django_settings, data: bytes) -> tuple[ImportRun, ImportRun]:
    one, two = sources(f"one-{uuid.uuid4().hex[:8]}", f"two-{uuid.uuid4().hex[:8]}")
    serial = imported(one, data, django_settings, SERIAL)
    return serial, imported(two, data, django_settings, IN_TWO)


@pytest.mark.parametrize(
    "bad, error",
    [
        # Half a surrogate pair: \udc00 has no UTF-8 form.
        pytest.param(b"\\udc00", "not UTF-8 text", id="half-a-surrogate-pair"),
        # A NUL in the text (the second half's first bytes are no report's first bytes: they
        # are not checked for a binary file's NULs).
        pytest.param(b"\x00onfig", "malformed or truncated JSON", id="nul"),
    ],
)
def test_an_error_in_the_second_halfs_first_finding_is_placed_after_the_first_halfs_last(
    settings, forks, bad, error
):
    findings = [
        {"secret": f"ghp_{i:036d}", "rule": "github-pat", "file": f"svc/config_{i:04d}.py"}
        for i in range(200)
    ]
    data = reports.gitleaks(findings)
    first = second_half_starts_at(data)
    # In that finding's path, in as many bytes as it replaces: the cut stays where it was.
    data = data.replace(f"config_{first:04d}".encode(), bad + f"_{first:04d}".encode(), 1)
    assert second_half_starts_at(data) == first

    serial, parallel = as_one_and_as_two(settings, data)

    assert len(forks) == 1
    assert serial.status == parallel.status == "failed"
    assert parallel.error == serial.error
    assert serial.error.startswith(error)
    assert serial.error_location.endswith(f"(after $[{first - 1}])")
    assert NEAR_BYTE.sub("", parallel.error_location) == NEAR_BYTE.sub("", serial.error_location)


def test_a_report_with_a_bom_is_failed_at_the_same_byte_of_its_second_half(settings, forks):
    # Nesting past the limit is found at its very byte: one process counts bytes from after
    # the BOM (importers.base.iter_json_array), and so must the second half's place.
    description = "x" * 198
    findings = [dict(f, description=description) for f in report(200)]
    data = b"\xef\xbb\xbf" + reports.gitleaks(findings)
    first = second_half_starts_at(data)
    at = -1
    for _ in range(first + 1):
        at = data.index(f'"{description}"'.encode(), at + 1)
    data = data[:at] + b"[" * 100 + b"]" * 100 + data[at + len(description) + 2 :]
    assert second_half_starts_at(data) == first

    serial, parallel = as_one_and_as_two(settings, data)

    assert len(forks) == 1
    assert serial.error == parallel.error == "JSON nested deeper than 64 levels"
    assert serial.error_location.startswith("near byte ")
    assert parallel.error_location == serial.error_location


@pytest.mark.parametrize("then", ["hangs", "dies"])
def test_a_second_process_that_wrote_its_rows_and_never_answered_counts_nothing(
    settings, forks, monkeypatch, then
):
    # The real child, its answer swallowed: its rows are in the file, and this process parses
    # the half again; each finding is staged (and counted) once.
    after = "signal.pause()" if then == "hangs" else "os._exit(9)"
    child_program(
        monkeypatch,
        "import io, os, signal, sys; from hygiene.services import parse_child;"
        f" sys.stdout = io.TextIOWrapper(io.BytesIO()); parse_child.main(); {after}",
    )
    monkeypatch.setattr(staging, "CHILD_GRACE", 0.5)
    monkeypatch.setattr(staging, "BATCH", 7)  # rows written in many messages
    findings = report(200)
    findings[20]["commit"] = "e" * 40
    findings[150] = dict(findings[20])  # one place twice: one finding
    data = reports.gitleaks(findings)

    serial, parallel = as_one_and_as_two(settings, data)

    assert len(forks) == 1 and forks[0].returncode is not None
    counts = [(r.status, r.received, r.created, r.updated, r.passed) for r in (serial, parallel)]
    assert counts[0] == counts[1] == ("succeeded", 200, 199, 0, 0)
    assert stored(serial.source) == stored(parallel.source)


# The child with a parse that marks findings described "VERIFIED" as verified (gitleaks' own
# reports never say so: the cross-half handling of verified repeats is otherwise unreached).
VERIFYING_CHILD = (
    "import sys\n"
    "from hygiene.importers import gitleaks\n"
    "real = gitleaks.parse\n"
    "def parse(stream):\n"
    "    for obs in real(stream):\n"
    "        if obs.title == 'VERIFIED':\n"
    "            obs.validity = 'valid'\n"
    "        yield obs\n"
    "gitleaks.parse = parse\n"
    "from hygiene.services import parse_child\n"
    "sys.exit(parse_child.main())\n"
)


def test_a_place_verified_only_in_the_second_half_is_verified_as_in_one_process(
    settings, forks, monkeypatch, caplog
):
    from hygiene.importers import gitleaks

    real = gitleaks.parse

    def verifying_parse(stream):
        for obs in real(stream):
            if obs.title == "VERIFIED":
                obs.validity = "valid"
            yield obs

    monkeypatch.setattr(staging, "CHILD_COMMAND", [staging.sys.executable, "-c", VERIFYING_CHILD])
    monkeypatch.setattr("hygiene.services.imports.get_parser", lambda key: verifying_parse)
    findings = report(200)
    for i in (30, 175):  # places given by their commit, not by their index in the report
        findings[i]["commit"] = f"{i:040x}"
    late = dict(findings[30], description="VERIFIED", rule="generic-api-key")
    findings[170], findings[180] = late, dict(findings[175], description="VERIFIED")
    findings[190] = dict(findings[175])  # verified by the one before, in the same half
    data = reports.gitleaks(findings)

    serial, parallel = as_one_and_as_two(settings, data)

    assert len(forks) == 1 and "parsing its half here" not in caplog.text
    assert (serial.status, serial.received) == (parallel.status, parallel.received)
    places = [
        sorted(Finding.objects.filter(source=r.source).values_list("path", "rule", "validity"))
        for r in (serial, parallel)
    ]
    assert places[0] == places[1]
    assert (findings[30]["file"], "aws-access-token", "valid") in places[1]
    assert stored(serial.source) == stored(parallel.source)  # severity one step up, in both


# -- one process or two, for reports hypothesis makes ------------------------------------------

SECRETS = [f"ghp_{i:036d}" for i in range(4)] + [f"AKIA{i:016d}" for i in range(3)] + ["7f3a" * 10]
TRICKY = st.sampled_from(["},{", '"]', "\\", "\n", "\r\n", "é", "\t", "[", "{", ",", '"', " "])


@st.composite
def gitleaks_reports(draw) -> bytes:
    """Findings that repeat secrets and places across the halves, with text that reads like
    JSON's structure, laid out as tools and editors do (BOM, CRLF, indents); sometimes one
    finding that can't be read."""
    elements = [
        {
            "RuleID": draw(st.sampled_from(["github-pat", "generic-api-key", "slack-webhook-url"])),
            "Secret": draw(st.sampled_from(SECRETS)),
            "File": draw(st.sampled_from(["a.py", "b/c.py", "d\\e.py"])),
            "StartLine": draw(st.integers(1, 3)),
            "Commit": draw(st.sampled_from(["a" * 40, "b" * 40])),
            "Description": "".join(draw(st.lists(TRICKY, max_size=5))),
            "Tags": draw(st.sampled_from([[], [["x"]], [{"a": "},{"}]])),
        }
        for _ in range(draw(st.integers(2, 24)))
    ]
    bad = draw(st.integers(-len(elements), len(elements) - 1))
    if bad >= 0:
        elements[bad] = draw(
            st.sampled_from(
                [
                    {"x": 1},
                    [1],
                    {**elements[bad], "StartLine": "x"},
                    {**elements[bad], "RuleID": "\udc00"},
                ]
            )
        )
    text = json.dumps(
        elements,
        indent=draw(st.sampled_from([None, 1, "\t"])),
        ensure_ascii=draw(st.booleans()) or bad >= 0,
    )
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\n \r\n"])) + text.encode()


def what_it_stored(run: ImportRun) -> tuple:
    """The run as a page shows it, and its findings with their secrets (fingerprints and
    location keys left out: each import has its own fingerprint key)."""
    findings = sorted(
        Finding.objects.filter(source=run.source).values_list(
            "rule",
            "secret_type",
            "severity",
            "validity",
            "path",
            "line",
            "commit",
            "title",
            "secret__secret_type",
            "secret__preview",
            "secret__severity",
            "secret__finding_count",
        )
    )
    place = NEAR_BYTE.sub("", run.error_location)  # "near byte" is as near as 64 KB reads
    return (run.status, run.error, place, run.received, run.created, run.updated, run.passed), (
        findings
    )


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=gitleaks_reports(), batch=st.integers(1, 6), held=st.integers(1, 6))
def test_one_process_or_two_store_the_same(settings, forks, monkeypatch, data, batch, held):
    monkeypatch.setattr(staging, "BATCH", batch)
    monkeypatch.setattr(staging, "REFERENCES_HELD", held)
    runs = []
    for threshold in (SERIAL, IN_TWO):
        # Secrets of their own for each import (of each example).
        settings.FINGERPRINT_KEY = uuid.uuid4().hex
        (source,) = sources(uuid.uuid4().hex[:12])
        runs.append(imported(source, data, settings, threshold))
    assert what_it_stored(runs[0]) == what_it_stored(runs[1])
