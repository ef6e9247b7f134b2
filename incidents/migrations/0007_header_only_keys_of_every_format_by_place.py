"""0006 again: imports now give any finding whose value is only a PEM header no value (GitLab's
default "RSA private key" and "PKCS8 private key" rules, custom gitleaks or 2ms rules in SARIF),
where 0006 ran after gitleaks and TruffleHog had stopped using it. Findings of those formats
stored since are moved the same way (0006's ``split_by_place`` covers every source)."""

import importlib

from django.db import migrations


# What imports now take for no value (services.staged_rows: "-----BEGIN|END <label>-----"), as
# the rules that match only a header or a footer capture it: private keys of every kind (0006's),
# their footers, and other PEM labels a custom rule may look for.
LABELS = [
    f"{kind}PRIVATE KEY{block}"
    for kind in ("", "RSA ", "EC ", "DSA ", "OPENSSH ", "PGP ", "ENCRYPTED ", "SSH2 ENCRYPTED ")
    for block in ("", " BLOCK")
] + ["CERTIFICATE", "PGP PUBLIC KEY BLOCK", "PGP MESSAGE", "PUBLIC KEY", "RSA PUBLIC KEY"]
HEADERS = [f"-----{edge} {label}-----" for edge in ("BEGIN", "END") for label in LABELS]


def split_by_place(apps, schema_editor):
    earlier = importlib.import_module("incidents.migrations.0006_header_only_keys_by_place")
    earlier.split_by_place(apps, schema_editor, headers=HEADERS)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_header_only_keys_by_place")]

    operations = [migrations.RunPython(split_by_place, migrations.RunPython.noop, elidable=True)]
