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
