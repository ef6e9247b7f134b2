"""A raw secret never lands anywhere: import every sample report, then search a pg_dump of the
database, Redis and the logs for every raw value the importers saw."""

import io
import logging
import subprocess
from pathlib import Path

import django_rq
import pytest
from django.db import connection

from hygiene.importers import FORMATS, Observation, get_parser
from hygiene.models import ImportRun, Secret, Source
from hygiene.services.imports import ImportFailed, import_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Directory → format key; SARIF files are SARIF wherever they sit.
FORMAT_OF_DIR = {
    "gitleaks": "gitleaks",
    "trufflehog": "trufflehog",
    "detect-secrets": "detect-secrets",
    "ggshield": "ggshield",
    "github-secret-scanning": "github-secret-scanning",
    "gitlab-secret-detection": "gitlab-secret-detection",
    "noseyparker": "noseyparker",
    "sarif": "sarif",
    "leakline": "leakline",
    "prowler": "prowler",
    "aws-iam-credential-report": "aws-iam-credential-report",
    "azure-storage-accounts": "azure-storage-accounts",
    "aws-cloudtrail": "aws-cloudtrail",
    "vault-audit": "vault-audit",
}


def sample_reports():
    for directory, key in FORMAT_OF_DIR.items():
        for path in sorted((FIXTURES / directory).glob("*")):
            if path.is_file() and not path.name.endswith(".gz"):
                yield ("sarif" if path.suffix == ".sarif" else key), path


def raw_values(key: str, path: Path) -> set[str]:
    values = set()
    try:
        for item in get_parser(key)(io.BytesIO(path.read_bytes())):
            if isinstance(item, Observation) and item.secret_value:
                value = item.secret_value.strip()
                # Test data holds a few "secrets" that are plain words ("a secret",
                # "Password"); those also appear in rule names and remediation text, so they
                # can't be searched for meaningfully.
                if len(value) >= 8 and not value.replace(" ", "").isalpha():
                    values.add(value)
    except Exception:  # bad samples are imported below anyway; they have no values to find
        return values
    return values


SOURCE_KIND = {key: fmt.kind for key, fmt in FORMATS.items()} | {"leakline": "rotator"}


@pytest.mark.django_db(transaction=True)
def test_no_raw_secret_value_is_stored_anywhere(caplog, capfd):
    caplog.set_level(logging.DEBUG)
    imported, secrets, real_rejected = set(), set(), []
    for key, path in sample_reports():
        secrets |= raw_values(key, path)
        source, _ = Source.objects.get_or_create(
            # A source of the tool's kind (rotation events come from rotators and auditors;
            # our own format's samples hold both findings and events).
            slug=key,
            defaults={"name": key, "kind": SOURCE_KIND.get(key, "scanner"), "default_format": key},
        )
        try:
            with path.open("rb") as stream:
                run = import_report(source=source, format_key=key, stream=stream, via="cli")
            imported.add(run.pk)
        except ImportFailed:
            if path.name.startswith(("real_", "tool_")):
                real_rejected.append(f"{path.parent.name}/{path.name}")
    # Reports the tools themselves wrote (real_*, tool_*: tests/fixtures/README.md) must all
    # import.
    assert real_rejected == []
    assert len(imported) >= 20, "most samples should import"
    assert len(secrets) >= 20, "the samples carry many raw values"
    assert Secret.objects.count() >= 20
    assert ImportRun.objects.filter(status="succeeded").count() == len(imported)

    db = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "hygiene_secret" in dump
    redis = django_rq.get_connection("default")
    redis_dump = b"".join((redis.dump(k) or b"") for k in redis.keys("*"))
    out, err = capfd.readouterr()
    logs = caplog.text + out + err
    leaked = [
        f"{value[:4]}… in "
        + ", ".join(
            where
            for where, found in (
                ("the database", value in dump),
                ("Redis", value.encode() in redis_dump),
                ("the logs", value in logs),
            )
            if found
        )
        for value in secrets
        if value in dump or value.encode() in redis_dump or value in logs
    ]
    assert leaked == [], f"{len(leaked)} raw values found in the database, Redis or logs"
