import pytest

from hygiene.fingerprints import (
    fingerprint,
    fingerprint_from_sha1,
    location_key,
    redact,
    secret_location_key,
    sha1_of,
)


def test_previews_show_what_the_credential_is_never_the_secret_part():
    assert redact("AKIAQYLPMN5HHHFPZAM2") == "AKIA…M2"
    assert redact("postgres://app:s3cr3tPassw0rd@db.internal:5432/payments") == (
        "postgres://app:…@db.internal"
    )
    assert redact("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt") == (
        "OPENSSH PRIVATE KEY (PEM) …"
    )
    assert redact("hunter2hunter2") == "hun…"
    assert redact("short") == "…"


def test_a_sha1_only_report_meets_the_same_fingerprint():
    value = "ghp_4Xr9sP0qLm2Nv8Bt6Yw1Zk3Jc5Hd7Fg9Ua0E"
    assert fingerprint(value) == fingerprint_from_sha1(sha1_of(value).upper())
    assert fingerprint(value + "\n") == fingerprint(value)
    assert fingerprint(value) != fingerprint(value[:-1])


@pytest.mark.parametrize(
    "parts",
    [
        ("f" * 64, "https://github.com/acme/api", "config/prod.env", 12, "a" * 40),
        ("f" * 64, "", "", None, ""),
        ("f" * 64, "acme/api", "src/ünïcode.py", 0, "abc"),
        ("f" * 64, None, None, None, None),
    ],
)
def test_the_import_hot_path_keys_findings_exactly_as_before(parts):
    # Findings already stored are matched by this key on every re-scan: the fast spelling
    # must give the generic one's digest, or every known finding would be created again.
    fp, repo, path, line, commit = parts
    assert secret_location_key(*parts) == location_key(fp, repo, path, line or "", commit)
