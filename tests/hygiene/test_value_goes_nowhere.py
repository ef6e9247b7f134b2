"""A raw value travels in no other field, whichever importer read it and wherever the tool
echoed it: staged rows (all that an import stores) hold it nowhere, as written, URL-encoded,
or as the secret half of a two-part credential; an error never quotes it."""

import io
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from hygiene.importers import ImportFormatError, Observation, get_parser
from hygiene.services.staged_rows import StagedRows

GHP = "ghp_Zq8Xv3Lm9Pn2Rt6Yw1Kd4Hs7Ab5Cd0Ef2Gh4"
AWS_ID, AWS_SECRET = "AKIAQYLPMN5HHHFPZAM2", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def staged(format_key: str, data: bytes) -> StagedRows:
    rows = StagedRows(1, 1, format_key, datetime(2026, 11, 1, tzinfo=UTC))
    for item in get_parser(format_key)(io.BytesIO(data)):
        if isinstance(item, Observation):
            rows.add_observation(item)
    assert rows.findings
    return rows


def assert_nowhere(rows: StagedRows, *values: str) -> None:
    text = repr((rows.findings, rows.references))
    for value in values:
        for form in (value, quote(value, safe="")):
            assert form not in text


def test_github_alert_whose_custom_pattern_is_named_after_the_value():
    alert = {
        "number": 7,
        "state": "open",
        "secret_type": f"acme_{GHP}",
        "secret_type_display_name": f"Acme token {GHP}",
        "secret": GHP,
        "html_url": "https://github.com/acme/app/security/secret-scanning/7",
        "repository": {"full_name": "acme/app"},
        "created_at": "2026-10-01T10:00:00Z",
    }
    assert_nowhere(staged("github-secret-scanning", json.dumps([alert]).encode()), GHP)


def test_gitleaks_link_with_the_value_url_encoded():
    finding = {
        "RuleID": "github-pat",
        "Description": "GitHub PAT",
        "Secret": GHP + "/x",
        "File": f"notes/{GHP}/x.txt",
        "StartLine": 1,
        "Commit": "a" * 40,
        "Link": f"https://github.com/acme/app/blob/{'a' * 40}/notes/{quote(GHP + '/x', safe='')}",
    }
    assert_nowhere(staged("gitleaks", json.dumps([finding]).encode()), GHP + "/x")


def test_trufflehog_aws_secret_half_of_raw_v2():
    line = {
        "SourceMetadata": {"Data": {"Filesystem": {"file": f"keys/{AWS_SECRET}.txt", "line": 2}}},
        "SourceName": "trufflehog - filesystem",
        "DetectorName": "AWS",
        "DecoderName": "PLAIN",
        "Verified": False,
        "Raw": AWS_ID,
        "RawV2": AWS_ID + AWS_SECRET,
    }
    assert_nowhere(staged("trufflehog", json.dumps(line).encode() + b"\n"), AWS_SECRET)


def test_leakline_ids_keyed_by_the_value():
    doc = {
        "version": 1,
        "tool": "custom",
        "findings": [
            {"rule": "token", "secret": GHP, "location": {"path": "a.env"}, "ids": {GHP: "1"}}
        ],
    }
    assert_nowhere(staged("leakline", json.dumps(doc).encode()), GHP)


def test_an_unknown_field_named_after_the_value_is_not_quoted():
    doc = {"version": 1, "tool": "custom", "findings": [{"rule": "token", GHP: "x"}]}
    with pytest.raises(ImportFormatError) as error:
        list(get_parser("leakline")(io.BytesIO(json.dumps(doc).encode())))
    assert GHP not in error.value.message and GHP not in error.value.location
    assert error.value.location == "$.findings[0]"
    misspelt = {"version": 1, "tool": "custom", "findings": [{"rule": "token", "titel": "x"}]}
    with pytest.raises(ImportFormatError) as error:
        list(get_parser("leakline")(io.BytesIO(json.dumps(misspelt).encode())))
    assert error.value.location == "$.findings[0].titel"
