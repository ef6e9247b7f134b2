"""Rule and detector names onto the secret-type taxonomy (the importers' fallback)."""

import pytest

from hygiene.taxonomy import guess_secret_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWS Secret Access Key", "aws-secret-key"),
        ("aws-access-token", "aws-access-key"),
        ("Generic API Key", "api-key"),
        # GitLab secret detection's names for other clouds' key pairs (real reports).
        ("Alibaba AccessKey ID", "api-key"),
        ("Tencent SecretId", "api-key"),
        ("Generic Password (double quoted)", "generic-password"),
        ("PKCS8 private key", "private-key"),
        ("High Entropy String", "generic-secret"),
    ],
)
def test_names_map_onto_the_taxonomy(name, expected):
    assert guess_secret_type(name) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("PostgreSQL connection string", "database-credential"),
        ("MongoDB Connection String", "database-credential"),
        ("Azure connection string", "azure-storage-key"),
        ("Storage connection string", "azure-storage-key"),
        ("connection string", "azure-storage-key"),
        # CodeQL's cs/hardcoded-connection-string-credentials: a user and password, a database's.
        ("Hard-coded connection string with credentials", "database-credential"),
    ],
)
def test_a_connection_string_is_a_databases_when_it_names_one(name, expected):
    assert guess_secret_type(name).value == expected


def test_entra_is_a_word_not_a_part_of_one():
    assert guess_secret_type("Microsoft Entra ID client secret").value == "azure-credential"
    assert guess_secret_type("Alchemy: decentralized app platform key").value != "azure-credential"
    assert guess_secret_type("Central repository token").value == "api-key"
