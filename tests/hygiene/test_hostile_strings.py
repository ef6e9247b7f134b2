"""Hostile text through the whole import path: NUL and half surrogate pairs (a JSON ``\\u``
escape holds them, PostgreSQL text can't), bytes that aren't UTF-8, control and COPY special
characters, markup, bidi overrides, very long values and Unicode-normalisation twins — in every
format, through the CLI, the API, the GitHub webhook and the pages that show what was stored.

A report either imports cleanly (what is stored is what PostgreSQL can hold, pages escape it,
the same finding stays one finding) or fails with an ImportFormatError saying where: never a
traceback, a 500 or "could not be read (unexpected structure)"."""

import copy
import csv
import hashlib
import hmac
import io
import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import django_rq
import pytest
from django.core.management import call_command
from rq import SimpleWorker

from hygiene.importers import FORMATS, ImportFormatError, Observation, RotationEvent, get_parser
from hygiene.importers.base import iter_json_array
from hygiene.models import Finding, ImportRun, Source
from hygiene.models import RotationEvent as RotationEventRow
from hygiene.services import staging
from hygiene.services.imports import import_report
from hygiene.services.staged_rows import CopyText, StagedRows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AWS_KEY = "AKIAQYLPMN5HHHFPZAM2"  # a fake key in AWS's format
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# One real report per format (and a second shape where a format has two readers).
REPORTS = [
    ("gitleaks", "gitleaks/json_simple.json"),
    ("gitleaks", "gitleaks/csv_simple.csv"),
    ("trufflehog", "trufflehog/README_example_output.jsonl"),
    ("trufflehog", "trufflehog/real_solos_daemon_stripe_filesystem.jsonl"),
    ("detect-secrets", "detect-secrets/real_ibm_fork_db2_v0_13_1_ibm18.json"),
    ("ggshield", "ggshield/ggshield_1_29_0_path_scan_line_offset.json"),
    (
        "github-secret-scanning",
        "github-secret-scanning/real_go_github_enterprise_alert_minimal_repository.json",
    ),
    (
        "gitlab-secret-detection",
        "gitlab-secret-detection/real_gitlabhq_master_v14_1_2_no_scan.json",
    ),
    (
        "noseyparker",
        "noseyparker/real_noseyparker_scan_secrets1_single_provenance_pre_v0_14.json",
    ),
    ("sarif", "sarif/generated_gitleaks_redacted.sarif"),
    ("prowler", "prowler/real_defectdojo_v4_one_vuln_after_4_5_0.ocsf.json"),
    ("prowler", "prowler/real_defectdojo_v2_one_vuln.csv"),
    ("aws-iam-credential-report", "aws-iam-credential-report/real_selefra_example_report.csv"),
    (
        "azure-storage-accounts",
        "azure-storage-accounts/az_storage_account_show_keyCreationTime_excerpt.json",
    ),
    (
        "aws-cloudtrail",
        "aws-cloudtrail/real_external_secrets_reloader_put_secret_value_eventbridge.json",
    ),
    ("vault-audit", "vault-audit/real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log"),
    ("leakline", "leakline/findings_and_events.json"),
]


# -- the report as a document whose text can be changed, and back -----------------------------


def load(name: str):
    text = (FIXTURES / name).read_bytes().decode("utf-8-sig")
    if name.endswith(".csv"):
        return "csv", list(csv.reader(io.StringIO(text)))
    try:
        return "json", json.loads(text)
    except ValueError:
        return "jsonl", [json.loads(line) for line in text.splitlines() if line.strip()]


def dump(kind: str, doc) -> bytes:
    if kind == "json":
        return json.dumps(doc).encode()  # NUL and lone surrogates as \u escapes
    if kind == "jsonl":
        return "".join(json.dumps(d) + "\n" for d in doc).encode()
    out = io.StringIO()
    csv.writer(out).writerows(doc)
    return out.getvalue().encode("utf-8", "surrogatepass")  # a cell holds the raw character


def text_leaves(kind: str, doc, at=()):
    if kind == "csv":
        yield from (((r, c), v) for r, row in enumerate(doc) if r for c, v in enumerate(row))
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield from text_leaves(kind, v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from text_leaves(kind, v, (*at, i))
    elif isinstance(doc, str):
        yield at, doc


def with_text(doc, at, text):
    changed = copy.deepcopy(doc)
    node = changed
    for key in at[:-1]:
        node = node[key]
    node[at[-1]] = text
    return changed


def stage(fmt: str, data: bytes) -> tuple[StagedRows, list]:
    rows = StagedRows(1, 1, fmt, NOW, "")
    items = list(get_parser(fmt)(io.BytesIO(data)))
    for item in items:
        if isinstance(item, Observation):
            rows.add_observation(item)
    return rows, items


def unstorable_text(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return True
    return "\x00" in value or "\\u0000" in value  # a NUL, or one in JSON (jsonb refuses it)


# -- every format, every text field: without a database ---------------------------------------


@pytest.mark.parametrize(("fmt", "name"), REPORTS, ids=[n for _, n in REPORTS])
def test_a_nul_or_half_a_surrogate_pair_in_any_field_stages_as_storable_rows(fmt, name):
    """Each text field of a real report in turn, with a NUL, a lone high and a lone low
    surrogate in the middle: refused with a location, or staged as rows PostgreSQL stores
    (COPY text encodes them: psycopg refuses a NUL, UTF-8 a surrogate) and events the ORM
    stores, with U+FFFD where the character was."""
    kind, doc = load(name)
    reached = 0
    for at, text in text_leaves(kind, doc):
        for bad in ("\x00", "\ud800", "\udc00"):
            if kind == "csv":
                bad = "y" * 4096 + bad  # past the 4 KB the binary check reads
            data = dump(
                kind, with_text(doc, at, text[: len(text) // 2] + bad + text[len(text) // 2 :])
            )
            try:
                rows, items = stage(fmt, data)
            except ImportFormatError as exc:
                assert exc.location, (at, bad, exc.message)
                continue
            CopyText().rows(rows.findings)  # psycopg's own formatting: raises on a NUL
            for row in rows.findings:
                assert not any(unstorable_text(v) for v in row), (at, bad, row)
            for row in rows.references:
                assert not any(unstorable_text(v) for v in row), (at, bad, row)
            for event in (i for i in items if isinstance(i, RotationEvent)):
                texts = [event.action, event.actor, event.event_name, event.event_id]
                texts += [event.evidence_url, event.detail, *(r.value for r in event.references)]
                assert not any(unstorable_text(v) for v in texts), (at, bad, event)
            reached += "\ufffd" in repr(rows.findings) + repr(items)
    assert reached  # some field of every report is stored


def test_a_report_after_more_than_4_kb_of_blank_lines_is_not_empty():
    """A CI job's log may put blank lines first: the report was called empty."""
    parse = get_parser("gitleaks")
    data = b"\n" * 5000 + gitleaks_report("app/.env", nul="")
    assert [obs.path for obs in parse(io.BytesIO(data))] == ["app/.env"]
    with pytest.raises(ImportFormatError, match="empty"):
        list(parse(io.BytesIO(b"\n" * 5000)))


def test_bytes_that_are_not_utf8_in_a_streamed_array_are_a_format_error_saying_where():
    """yajl decodes a lone low surrogate escape (\\udc00) and a CESU-8 surrogate to bytes that
    aren't UTF-8, and raised UnicodeDecodeError: "could not be read (unexpected structure)"."""
    for bad in (b'"ok \\udc00"', b'"ok \xed\xa0\x80"', b'"ok \xc0\xaf"'):
        data = b'[{"a": "fine"}, {"a": ' + bad + b"}]"
        with pytest.raises(ImportFormatError) as caught:
            list(iter_json_array(io.BytesIO(data)))
        assert "UTF-8" in caught.value.message
        assert (
            caught.value.location.startswith("near byte ") and "after $[0]" in caught.value.location
        )


def test_a_line_that_is_no_whole_number_is_stored_as_no_line():
    """An importer's float or bool line would reach COPY as "3.5" in an integer column."""
    rows = StagedRows(1, 1, "leakline", NOW, "")
    for i, line in enumerate((3.5, True, 2**40, -(2**40), 7)):
        rows.add_observation(
            Observation(
                rule="r",
                secret_type="generic-secret",
                secret_value=f"v4lue-{i}-xyz",
                path=f"f{i}",
                line=line,
            )
        )
    assert [row[12] for row in rows.findings] == [None, None, None, None, 7]


# -- through the database: CLI, API, webhook, pages -------------------------------------------

HOSTILE_PATH = "deploy/<img src=x onerror=alert(1)>\u202egnp.exe\u200b\x1b[31m\t\\N\\.\x00.sh"
STORED_PATH = "deploy/<img src=x onerror=alert(1)>\u202egnp.exe\u200b\x1b[31m\t\\N\\.\ufffd.sh"


def gitleaks_report(path: str, *, secret: str = AWS_KEY, nul: str = "\x00", extra=()) -> bytes:
    """A gitleaks v8 report of one finding at ``path``, with ``nul`` in its other text (a
    binary file's match writes one)."""
    finding = {
        "Description": f"AWS{nul} Access Key",
        "StartLine": 12,
        "EndLine": 12,
        "StartColumn": 1,
        "EndColumn": 21,
        "Match": f"key={secret}",
        "Secret": secret,
        "File": path,
        "Commit": "4fe3c1e0b0a2d5b1b8b1c1d1e1f1a1b1c1d1e1f1",
        "Author": f"Dana{nul}Dev",
        "Email": "dana@example.com",
        "Date": "2024-03-01T10:00:00Z",
        "Message": f"add{nul} config",
        "RuleID": "aws-access-token",
        "Fingerprint": f"4fe3c1e0:{path}:aws-access-token:12",
    }
    return json.dumps([finding, *extra]).encode()


def run_cli(tmp_path, data: bytes, slug: str, fmt: str = "gitleaks"):
    report = tmp_path / "report.json"
    report.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import_findings",
            str(report),
            source=slug,
            format_key=fmt,
            json=True,
            stdout=out,
            stderr=err,
        )
    except SystemExit as exc:
        return exc.code, err.getvalue()
    return 0, json.loads(out.getvalue())


@pytest.mark.django_db
def test_the_cli_imports_hostile_text_cleanly_and_twice_as_one_finding(tmp_path, source):
    code, summary = run_cli(tmp_path, gitleaks_report(HOSTILE_PATH), source.slug)
    assert code == 0, summary
    assert summary["status"] == "succeeded" and summary["created"] == 1
    finding = Finding.objects.get()
    assert finding.path == STORED_PATH  # COPY's specials (\t, \N, \.) as they were
    assert finding.author == "Dana\ufffdDev <dana@example.com>"
    # The same finding in a report that also has another one: still one finding.
    other = json.loads(gitleaks_report("other.env", secret="AKIA2OGYBAH6STMMNXNN"))
    code, summary = run_cli(tmp_path, gitleaks_report(HOSTILE_PATH, extra=other), source.slug)
    assert code == 0 and (summary["created"], summary["unchanged"]) == (1, 1), summary
    assert Finding.objects.filter(path=STORED_PATH).count() == 1


@pytest.mark.django_db
def test_a_path_and_its_unicode_normalisation_twin_are_one_finding(tmp_path, source):
    """ "café" precomposed (git on Linux) and decomposed (a scan of a macOS checkout)."""
    composed = "config/caf\u00e9.env"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    for path in (composed, decomposed):
        code, summary = run_cli(tmp_path, gitleaks_report(path, nul=""), source.slug)
        assert code == 0, summary
    assert list(Finding.objects.values_list("path", flat=True)) == [composed]


def work():
    SimpleWorker(
        [django_rq.get_queue("imports")], connection=django_rq.get_connection("imports")
    ).work(burst=True)


@pytest.fixture
def empty_queues():
    for name in ("imports", "default"):
        django_rq.get_queue(name).empty()


def trufflehog_line(path: str, arn: str) -> bytes:
    line = json.loads(
        (FIXTURES / "trufflehog/README_example_output.jsonl").read_bytes().splitlines()[0]
    )
    line["SourceMetadata"]["Data"]["Git"]["file"] = path
    line["ExtraData"]["arn"] = arn
    return json.dumps(line).encode() + b"\n"


@pytest.mark.django_db(transaction=True)
def test_the_api_imports_hostile_text_and_the_pages_show_it_escaped(
    client, source, source_token, lead, empty_queues
):
    data = trufflehog_line(HOSTILE_PATH, "arn:aws:iam::595918472158:user/\x00canary\udc00")
    response = client.post(
        "/api/v1/imports?format=trufflehog",
        data=data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {source_token}"},
    )
    assert response.status_code == 202, response.content
    work()
    run = ImportRun.objects.get()
    assert run.status == "succeeded", (run.error, run.error_location)
    finding = Finding.objects.get()
    assert finding.path == STORED_PATH
    client.force_login(lead)
    for url in (
        "/findings/",
        f"/findings/{finding.pk}/",
        f"/secrets/{finding.secret_id}/",
        f"/findings/?q={finding.path[:12]}",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body, url


def deliver(client, source, payload: dict):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(b"whsec-hostile", body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/api/v1/webhooks/github/{source.slug}",
        data=body,
        content_type="application/json",
        headers={
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": "secret_scanning_alert_location",
        },
    )
    work()
    return response


@pytest.mark.django_db(transaction=True)
def test_a_webhook_delivery_with_hostile_text_is_imported_not_a_500(client, empty_queues):
    github = Source.objects.create(
        slug="github-hostile",
        name="GitHub",
        kind="scanner",
        default_format="github-secret-scanning",
        webhook_secret="whsec-hostile",
    )
    payload = json.loads(
        (
            FIXTURES
            / "github-secret-scanning/real_ghdocs_secret_scanning_alert_location_created.json"
        ).read_bytes()
    )
    payload["location"]["details"]["path"] = "/app/\x00conf\ud800ig.yml"
    payload["alert"]["secret_type_display_name"] = "Adafruit\x00 IO Key"
    # (The alert's identity, without its value, is digested from the repository's name.)
    payload["repository"]["full_name"] = "Codertocat/Hello\ud800"
    response = deliver(client, github, payload)
    assert response.status_code == 202, response.content
    run = ImportRun.objects.get(source=github)
    assert run.status == "succeeded", (run.error, run.error_location)
    finding = Finding.objects.get(source=github)
    assert (finding.path, finding.repo) == ("app/\ufffdconf\ufffdig.yml", "Codertocat/Hello\ufffd")


@pytest.mark.django_db
def test_rotation_events_with_a_nul_or_half_a_surrogate_pair_are_stored(tmp_path):
    Source.objects.create(slug="vault", name="Vault", kind="rotator", default_format="vault-audit")
    lines = []
    for i, raw in enumerate(
        (FIXTURES / "vault-audit/real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log")
        .read_bytes()
        .splitlines()
    ):
        entry = json.loads(raw)
        entry["auth"]["display_name"] = f"token\x00{i}\udc00"
        lines.append(json.dumps(entry).encode())
    code, summary = run_cli(tmp_path, b"\n".join(lines) + b"\n", "vault", "vault-audit")
    assert code == 0, summary
    assert summary["events"] >= 1
    actors = set(RotationEventRow.objects.values_list("actor", flat=True))
    assert actors and all("\ufffd" in a and "\x00" not in a for a in actors)


def with_nul_where_it_is_stored(fmt: str, kind: str, doc, most: int = 3):
    """The report with a NUL in the middle of (up to ``most`` of) its text fields whose text
    is stored."""
    chosen = doc
    for at, text in text_leaves(kind, doc):
        if most == 0:
            break
        middle = "y" * 4096 + "\x00" if kind == "csv" else "\x00"
        candidate = with_text(chosen, at, text[: len(text) // 2] + middle + text[len(text) // 2 :])
        try:
            rows, items = stage(fmt, dump(kind, candidate))
        except ImportFormatError:
            continue
        if "\ufffd" in repr(rows.findings) + repr(rows.references) + repr(items):
            chosen, most = candidate, most - 1
    assert chosen is not doc
    return chosen


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "name"), REPORTS, ids=[n for _, n in REPORTS])
def test_every_format_imports_nuls_through_the_cli_twice_as_the_same_findings(
    tmp_path, client, lead, fmt, name
):
    kind, doc = load(name)
    # A report with rotation events comes from a rotator's source.
    source_kind = "rotator" if fmt == "leakline" else FORMATS[fmt].kind
    source = Source.objects.create(slug="hostile", name="hostile", kind=source_kind)
    data = dump(kind, with_nul_where_it_is_stored(fmt, kind, doc))
    code, first = run_cli(tmp_path, data, source.slug, fmt)
    assert code == 0, first
    # The same report again, as other bytes (not a duplicate run): nothing new.
    code, again = run_cli(tmp_path, data + b"\n", source.slug, fmt)
    assert code == 0, again
    assert not again["duplicate"] and again["created"] == 0, again
    findings = list(Finding.objects.filter(source=source))
    assert len(findings) == first["created"]
    assert RotationEventRow.objects.count() == first["events"]
    client.force_login(lead)
    pages = ["/findings/", "/findings/secrets/", "/events/", f"/sources/{source.slug}/"]
    for url in pages + [f"/findings/{f.pk}/" for f in findings]:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_two_events_whose_long_ids_differ_only_at_the_end_are_two_events(tmp_path):
    """A credential report's event id is its user's ARN, then the key and when: with an IAM
    path of a few hundred characters (IAM allows 512) the ids of the user's two keys differed
    only past the column's 200 characters, and the second key's rotation was dropped."""
    Source.objects.create(slug="iam", name="IAM", kind="auditor")
    header, row = (
        (FIXTURES / "aws-iam-credential-report/real_selefra_example_report.csv")
        .read_text()
        .splitlines()[:2]
    )
    arn = "arn:aws:iam::123456789012:user/" + "platform/team/" * 15 + "user-readonly"
    report = f"{header}\n{row.replace('arn:aws:iam::123456789012:user/user-readonly', arn)}\n"
    code, summary = run_cli(tmp_path, report.encode(), "iam", "aws-iam-credential-report")
    assert code == 0, summary
    ids = list(RotationEventRow.objects.values_list("event_id", flat=True))
    assert summary["events"] == 2 and len(set(ids)) == 2
    assert all(len(i) <= 200 for i in ids)
    code, summary = run_cli(tmp_path, report.encode() + b"\n", "iam", "aws-iam-credential-report")
    assert code == 0 and RotationEventRow.objects.count() == 2  # and the same events again


@pytest.mark.django_db
def test_a_report_parsed_in_two_processes_stores_nuls_as_one_process_does(
    settings, monkeypatch, caplog
):
    """The second half's rows are COPY text made in the child (CopyText): the same cleaning."""
    children = []
    popen = staging.subprocess.Popen
    monkeypatch.setattr(
        staging.subprocess, "Popen", lambda *a, **k: children.append(popen(*a, **k)) or children[-1]
    )
    findings = [
        {
            "Description": "AWS Access Key",
            "StartLine": i + 1,
            "EndLine": i + 1,
            "Secret": f"AKIA{i:016d}",
            "Match": "",
            "File": f"svc/config_{i}\x00.py" if i % 10 == 0 else f"svc/config_{i}.py",
            "Commit": f"{i:040x}",
            "Author": "Dana\x00" if i == 55 else "Dana",
            "Email": "",
            "Date": "2024-03-01T10:00:00Z",
            "RuleID": "aws-access-token",
        }
        for i in range(60)
    ]
    data = json.dumps(findings).encode()
    stored = []
    for slug, threshold in (("serial", 0), ("in-two", 1)):
        source = Source.objects.create(slug=slug, name=slug, kind="scanner")
        settings.LEAKLINE_PARALLEL_PARSE_BYTES = threshold
        run = import_report(
            source=source, format_key="gitleaks", stream=io.BytesIO(data), via="cli"
        )
        assert (run.status, run.created) == ("succeeded", 60)
        stored.append(
            sorted(
                Finding.objects.filter(source=source).values_list("location_key", "path", "author")
            )
        )
    assert len(children) == 1  # the second half's process, which staged its half itself:
    assert "parsing its half here" not in caplog.text
    assert stored[0] == stored[1]
    assert ("svc/config_50\ufffd.py", "Dana") in [row[1:] for row in stored[1]]
