"""Findings imported before the importers stopped keeping unkeyed digests of a value lose them
(migration 0015), and nothing else: not another format's own ids, nor a user's."""

import os

import pytest
from django.db import connection

from hygiene.models import Finding, Source
from hygiene.value_digests import forget_value_digests
from tests.hygiene.test_filters import make_finding
from tests.sqlite_run import assert_module_passes_on_sqlite

ON_SQLITE = os.environ.get("LEAKLINE_DIGESTS_SQLITE") == "1"

pytestmark = pytest.mark.django_db

CASES = {
    # default format: (tool ids imported before, what must remain)
    "ggshield": (
        {"ignore_sha": "06b1" * 16, "policy": "Secrets detection", "known_secret": "true"},
        {"policy": "Secrets detection", "known_secret": "true"},
    ),
    "gitlab-secret-detection": (
        {"id": "714ed3e4", "cve": "README.md:1a5d44a2:AWS"},
        {"id": "714ed3e4"},
    ),
    "noseyparker": (
        {"finding_id": "d551329b", "rule_text_id": "np.github.1", "blob_id": "bef17e1f"},
        {"rule_text_id": "np.github.1", "blob_id": "bef17e1f"},
    ),
    "sarif": (
        {
            "secret/v1": "3f0b6e2a",
            "primaryLocationLineHash": "9a8b:1",
            "fingerprint:SecretHashSha256/current": "ab12",
            "fingerprint:matchBasedId/v1": "c0ffee",
            "fingerprint:AssetFingerprint/v1": "[id=T01][platform=Slack]",
            "commitSha": "4e1f",
            "guid": "0d9c",
        },
        {
            "fingerprint:AssetFingerprint/v1": "[id=T01][platform=Slack]",
            "commitSha": "4e1f",
            "guid": "0d9c",
        },
    ),
    # Our own format takes any id a tool gives: its cve and finding_id are the user's.
    "leakline": (
        {"cve": "CVE-2024-1", "finding_id": "F-1042", "ignore_sha": "06b1"},
        {"cve": "CVE-2024-1", "finding_id": "F-1042"},
    ),
}


def test_value_digests_are_forgotten_and_nothing_else():
    findings = {}
    for fmt, (before, _) in CASES.items():
        source = Source.objects.create(slug=fmt, name=fmt, kind="scanner", default_format=fmt)
        findings[fmt] = make_finding(source, tool_ids=before)
    untouched = make_finding(findings["sarif"].source, tool_ids={"guid": "1"})
    changed = forget_value_digests(connection)
    assert changed == len(CASES)
    for fmt, (_, after) in CASES.items():
        assert Finding.objects.get(pk=findings[fmt].pk).tool_ids == after, fmt
    assert Finding.objects.get(pk=untouched.pk).tool_ids == {"guid": "1"}
    assert forget_value_digests(connection) == 0  # run again: nothing left


def test_the_same_on_sqlite(tmp_path):
    if ON_SQLITE:
        raise AssertionError("the SQLite run must deselect this test")
    assert_module_passes_on_sqlite(
        __file__, tmp_path, flag="LEAKLINE_DIGESTS_SQLITE", deselect="on_sqlite"
    )
