"""Reports the real tools wrote about a scratch repository of planted, fake credentials.

The fixtures named ``tool_<tool>_<version>_<what>`` are the output of the tools themselves
(installed from PyPI and npm, run offline) on a five-commit repository whose secrets we made up:
AWS's documented example key pairs, random-shaped GitHub, Slack and Stripe test tokens, a throwaway
RSA key, URLs with passwords, an Azure connection string and SAS URL, a JWT, base64 and hex
strings, and a file with unicode, CRLF line ends and a 5,000-character line
(``conf/légacy_settings.ini``). Each test asserts the fields a user reads, and that no planted
value reaches a stored field.
"""

import dataclasses
import io
from datetime import UTC, datetime
from pathlib import Path

from hygiene.importers import get_parser
from hygiene.importers.base import Observation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_ID2 = "AKIAI44QH8DHBEXAMPLE"
AWS_SECRET2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
GHP = "ghp_L6Ch7teYjqhPApp2zBauu1zKgo6aXlrdNsmI"
GHP2 = "ghp_ZPDE7Ad5kSUvsXDgGsPakYWXg7YG0sEbNpxc"
SLACK = "xoxb-668022066512-6826203665965-5CVfIVnFatDhuwa7ytjAy6ND"
PG_PASS = "Pg5D8OdFB234HQma9x"
MYSQL_PASS = "My56NmgysmrPiS"
AZ_KEY = "dr7kFWRDm17qX5pN8kldHyw7rN3CUwEEwRgu2LPB67VEpyrodY4PbeAj3nnuoyc2XAGCZSBRDOM8wliqVY3UIg=="
DB_PASSWORD = "hunter2kknnF7sqG"
API_PASSWORD = "ApiPwDfEyR7k6qay"
HEX = "952a8b6ddf49e4cc650c97d14db1717a7f60fca3"
B64 = "kOj/I/3nPJhMRR7Oi3d3dmLGZ8B+RnO6NMOs1cOsUL0vAQcC6N8MiHIrC0J9"
TF_SECRET = "tFpUKq+mlz6gIuaIZ+rP2lpuUunuBQvews+MRCmj"
PEM_LINE = "MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBALj8uVjVHhSJnqiJ"
PLANTED = [
    AWS_SECRET,
    AWS_SECRET2,
    GHP,
    GHP2,
    SLACK,
    PG_PASS,
    MYSQL_PASS,
    AZ_KEY,
    AZ_KEY[:30],
    DB_PASSWORD,
    API_PASSWORD,
    HEX,
    B64,
    TF_SECRET,
    PEM_LINE,
]
LEGACY = "conf/légacy_settings.ini"
C1, C2, C3, C4, C5 = (
    "361dadd57a97042eb10e9e13e6666f9d3746c455",  # config.py with an AWS key pair
    "6b2b980cb7608805b79f49b9703e812240c2eb9c",  # .env, deploy/settings.yaml
    "2833432a800d989f0e01114cc972363cce668039",  # keys/id_rsa
    "839bb5fd07d556716b6597f4c3ec3b4a0a82f83b",  # removes the AWS pair and the Slack token
    "5c63dafbda9a884f3ce829925afbd04227bdf0ed",  # legacy settings, Terraform, Dockerfile
)


def run(key: str, folder: str, name: str) -> list[Observation]:
    data = (FIXTURES / folder / name).read_bytes()
    return [i for i in get_parser(key)(io.BytesIO(data)) if isinstance(i, Observation)]


def assert_no_planted_value_outside_the_value(items: list[Observation]) -> None:
    for obs in items:
        texts = [
            (f.name, getattr(obs, f.name))
            for f in dataclasses.fields(obs)
            if f.name != "secret_value" and isinstance(getattr(obs, f.name), str)
        ]
        texts += [(f"tool_ids[{k}]", v) for k, v in obs.tool_ids.items()]
        texts += [(f"reference {r.kind}", r.value) for r in obs.references]
        for name, text in texts:
            for planted in PLANTED:
                assert planted not in text, f"{name} of {obs.rule} holds {planted[:6]}…"


# --- detect-secrets (the importer belongs to detect_secrets.py; these pin what it reads) -------


def test_detect_secrets_0_13_1_audited_baseline():
    """0.13.1: no `filename` in items; audit set is_secret false on one (dismissed) and true on
    the private key; the CRLF, non-ASCII file's lines are the tool's."""
    items = run("detect-secrets", "detect-secrets", "tool_detect_secrets_0_13_1_audited.json")
    assert len(items) == 16
    got = {(o.path, o.line, o.rule): o for o in items}
    config = got[("app/config.py", 6, "Secret Keyword")]
    assert config.tool_resolution == "false_positive"
    assert got[("keys/id_rsa", 1, "Private Key")].secret_type == "private-key"
    assert got[("deploy/settings.yaml", 6, "AWS Access Key")].secret_type == "aws-access-key"
    assert got[(LEGACY, 4, "JSON Web Token")].secret_type == "jwt"
    assert got[(LEGACY, 6, "Hex High Entropy String")].secret_type == "generic-secret"
    # A private key's hashed_secret is its header's (every such key's): no identity.
    assert all(o.secret_value is None for o in items)
    assert [o.rule for o in items if not o.secret_sha1] == ["Private Key"]
    assert sum(o.tool_resolution == "false_positive" for o in items) == 1
    assert_no_planted_value_outside_the_value(items)


def test_detect_secrets_1_0_3_and_1_5_0_baselines():
    plain = run("detect-secrets", "detect-secrets", "tool_detect_secrets_1_0_3.json")
    audited = run("detect-secrets", "detect-secrets", "tool_detect_secrets_1_5_0_audited.json")
    assert (len(plain), len(audited)) == (16, 23)
    types = {(o.path, o.line, o.rule): o.secret_type for o in audited}
    assert types[(".env", 1, "GitHub Token")] == "github-token"
    assert types[(LEGACY, 2, "Azure Storage Account access key")] == "azure-storage-key"
    assert types[("deploy/settings.yaml", 2, "Basic Auth Credentials")] == "generic-password"
    assert [o.path for o in audited if o.tool_resolution] == ["app/config.py"]
    # The same hashed value at one line under two plugins is one secret.
    line7 = [o for o in audited if (o.path, o.line) == ("deploy/settings.yaml", 7)]
    assert len(line7) == 2 and len({o.secret_sha1 for o in line7}) == 1
    assert_no_planted_value_outside_the_value(plain + audited)


# --- truffleHog 2.2.1 --json ---------------------------------------------------------------------


def test_trufflehog_2_2_1_regex_and_entropy():
    """--regex --entropy=True: each rule's match is cut to its value (Generic Secret's
    `secret = "<hex>"`, Password in URL's trailing quote and newline); an entropy run
    `AccountKey=<key>` is the key; the commit is the one whose diff shows the line (v2 also
    reports the commit that removed it); dates are UTC as the scan ran."""
    items = run("trufflehog", "trufflehog", "tool_trufflehog_2_2_1_regex_entropy.jsonl")
    by_rule_value = {(o.rule, o.secret_value): o for o in items}
    url = by_rule_value[
        ("Password in URL", f"mysql://admin:{MYSQL_PASS}@mysql.internal.example.com/shop")
    ]
    assert (url.secret_type, url.path, url.commit) == (
        "database-credential",
        "deploy/settings.yaml",
        C2,
    )
    assert url.committed_at == datetime(2024, 3, 2, 11, 30, tzinfo=UTC)
    assert url.tool_ids == {"branch": "origin/main"}
    generic = by_rule_value[("Generic Secret", HEX)]
    assert (generic.path, generic.commit) == (LEGACY, C5)
    assert ("High Entropy", HEX) in by_rule_value  # the same value: one secret
    assert ("High Entropy", AZ_KEY) in by_rule_value  # not "AccountKey=…"
    assert ("High Entropy", TF_SECRET) in by_rule_value  # found on the 5,000-character line
    aws = by_rule_value[("AWS API Key", AWS_ID2)]
    assert [(r.kind, r.value) for r in aws.references] == [("aws-access-key-id", AWS_ID2)]
    removed = by_rule_value[("High Entropy", AWS_SECRET)]
    assert (removed.path, removed.commit) == ("app/config.py", C4)
    pem_lines = [o for o in items if o.path == "keys/id_rsa"]
    assert len(pem_lines) == 13 and {o.commit for o in pem_lines} == {C3}
    assert all(o.line is None and o.repo == "" for o in items)
    assert_no_planted_value_outside_the_value(items)


# --- SARIF -------------------------------------------------------------------------------------


def test_checkov_3_3_30_secrets_framework():
    """Checkov's secrets framework: detect-secrets plugin names as rule names, the snippet
    masked ("AKIAI**********"), the path as given on the command line; no value."""
    items = run("sarif", "sarif", "tool_checkov_3_3_30_secrets.sarif")
    assert [(o.rule, o.secret_type, o.path, o.line, o.severity) for o in items] == [
        ("CKV_SECRET_6", "generic-secret", "repo/deploy/settings.yaml", 4, "high"),
        ("CKV_SECRET_2", "aws-access-key", "repo/deploy/settings.yaml", 6, "high"),
        ("CKV_SECRET_2", "aws-access-key", "repo/infra/main.tf", 3, "high"),
    ]
    assert [o.title for o in items] == [
        "Base64 High Entropy String",
        "AWS Access Key",
        "AWS Access Key",
    ]
    assert all(o.secret_value is None and not o.redacted for o in items)
    assert_no_planted_value_outside_the_value(items)


def test_checkov_3_3_30_all_frameworks_keeps_only_secret_checks():
    """All frameworks: 17 results, of which the secrets and the hard-coded provider keys
    (CKV_AWS_41) are secret findings; the S3, security group and Dockerfile checks are not. Their
    snippets are unmasked source (the provider block with the AWS secret key): never kept."""
    items = run("sarif", "sarif", "tool_checkov_3_3_30_all_frameworks.sarif")
    assert sorted((o.rule, o.path, o.line) for o in items) == [
        ("CKV_AWS_41", "repo/infra/main.tf", 1),
        ("CKV_SECRET_2", "repo/deploy/settings.yaml", 6),
        ("CKV_SECRET_2", "repo/infra/main.tf", 3),
        ("CKV_SECRET_6", "repo/deploy/settings.yaml", 4),
    ]
    provider = next(o for o in items if o.rule == "CKV_AWS_41")
    assert provider.title == "Ensure no hard coded AWS access key and secret key exists in provider"
    assert provider.secret_type == "aws-access-key"
    assert all(o.secret_value is None for o in items)
    assert_no_planted_value_outside_the_value(items)


def test_bandit_1_9_4_hard_coded_passwords():
    """Bandit's B105/B106 (CWE-259 tag): message and snippets quote the password; not kept."""
    items = run("sarif", "sarif", "tool_bandit_1_9_4_hardcoded_passwords.sarif")
    assert [(o.rule, o.secret_type, o.path, o.line, o.severity, o.title) for o in items] == [
        ("B105", "generic-password", "app/config.py", 6, "low", "hardcoded_password_string"),
        ("B106", "generic-password", "app/config.py", 11, "low", "hardcoded_password_funcarg"),
    ]
    assert all(o.secret_value is None for o in items)
    assert_no_planted_value_outside_the_value(items)


def test_semgrep_1_185_0_local_secret_rules():
    """Semgrep with local rules: the debug-flag rule is skipped, the others are secrets; the
    title is the rule id (not "Semgrep Finding: <id>"); `security-severity` 9.1 is critical;
    the "requires login" placeholder fingerprint is no tool id; the message (which interpolates
    the password) and the snippet (the source line) are not kept."""
    items = run("sarif", "sarif", "tool_semgrep_1_185_0_secret_rules.sarif")
    got = [(o.rule, o.secret_type, o.path, o.line) for o in items]
    assert len(got) == 8 and all(rule != "debug-enabled" for rule, *_ in got)
    assert ("password-in-url", "generic-password", ".env", 2) in got
    assert ("python-hardcoded-password", "generic-password", "app/config.py", 6) in got
    aws = next(o for o in items if o.rule == "aws-access-key-id")
    assert (aws.title, aws.severity, aws.secret_type) == (
        "aws-access-key-id",
        "critical",
        "aws-access-key",
    )
    assert aws.description == "AWS access key id $0 found"  # the rule's template
    assert all(o.tool_ids == {} and o.secret_value is None for o in items)
    assert_no_planted_value_outside_the_value(items)


def test_kingfisher_2_14_0_git_metadata_on_the_location():
    """Kingfisher: the snippet is the value; commit, author, date and repository come from the
    location's `properties.git_metadata` (the working-tree matches have none); the validation
    was not attempted; the commands it prints (which spell the secret) are never kept."""
    items = run("sarif", "sarif", "tool_kingfisher_2_14_0_git_and_files.sarif")
    by_path = {o.path: o for o in items}
    env = by_path[".env"]
    assert (env.secret_value, env.secret_type, env.line) == (GHP, "github-token", 1)
    assert (env.repo, env.commit, env.author) == ("repo", C2, "Lea Kline <lea@example.com>")
    assert env.committed_at == datetime(2024, 3, 2, tzinfo=UTC)
    assert env.title == "GITHUB-PAT" and env.validity == "unknown"
    assert env.url == ""  # a local repository's "URL" is a relative path
    assert env.tool_ids == {"fingerprint": "13748821633377212550"}
    legacy = [o for o in items if o.path == LEGACY]
    assert {(o.secret_type, o.line, o.commit) for o in legacy} == {
        ("azure-storage-key", 2, C5),
        ("jwt", 4, C5),
    }
    assert next(o for o in legacy if o.line == 2).secret_value == AZ_KEY
    key = by_path["repo/keys/id_rsa"]
    assert key.secret_type == "private-key" and key.secret_value.startswith("-----BEGIN")
    assert (key.commit, key.repo, key.author) == ("", "", "")
    assert by_path["repo/Dockerfile"].secret_value == GHP2
    assert_no_planted_value_outside_the_value(items)


def test_secretlint_12_recommend_preset():
    """secretlint's SARIF formatter: masked messages, no snippet; rule ids "<preset> > <rule>";
    the type from the rule package (a database connection string is no Azure key) or from what
    the message says was found (the AWS rule reports key ids and secret keys alike)."""
    items = run("sarif", "sarif", "tool_secretlint_12_0_0_recommend.sarif")
    got = [(o.secret_type, o.path, o.line) for o in items]
    assert got == [
        ("github-token", ".env", 1),
        ("database-credential", ".env", 2),
        ("github-token", "Dockerfile", 2),
        ("database-credential", "deploy/settings.yaml", 2),
        ("github-token", "deploy/settings.yaml", 4),
        ("aws-secret-key", "deploy/settings.yaml", 7),
        ("private-key", "keys/id_rsa", 1),
    ]
    assert items[1].title == "@secretlint/secretlint-rule-database-connection-string"
    assert items[1].rule.endswith(" > @secretlint/secretlint-rule-database-connection-string")
    assert all(o.secret_value is None and o.severity == "high" for o in items)
    assert_no_planted_value_outside_the_value(items)
