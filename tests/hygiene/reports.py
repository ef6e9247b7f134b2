"""Builders for realistic reports in the tools' own formats (for the pipeline's tests)."""

import hashlib
import json


def gitleaks(findings: list[dict]) -> bytes:
    out = []
    for i, f in enumerate(findings):
        secret = f["secret"]
        out.append(
            {
                "Description": f.get("description", "AWS Access Key"),
                "StartLine": f.get("line", 10 + i),
                "EndLine": f.get("line", 10 + i),
                "StartColumn": 12,
                "EndColumn": 12 + len(secret),
                "Match": f'key = "{secret}"',
                "Secret": secret,
                "File": f.get("file", f"config/settings_{i}.py"),
                "SymlinkFile": "",
                "Commit": f.get("commit", f"{i:040x}"),
                "Entropy": 4.1,
                "Author": "Dana Dev",
                "Email": "dana@example.com",
                "Date": f.get("date", "2024-03-01T10:00:00Z"),
                "Message": f"commit with {secret}",
                "Tags": [],
                "RuleID": f.get("rule", "aws-access-token"),
                "Fingerprint": f"{f.get('commit', f'{i:040x}')}:{f.get('file')}:rule:{i}",
            }
        )
    return json.dumps(out).encode()


def trufflehog(findings: list[dict]) -> bytes:
    lines = []
    for f in findings:
        lines.append(
            json.dumps(
                {
                    "SourceMetadata": {
                        "Data": {
                            "Git": {
                                "commit": f.get("commit", "a" * 40),
                                "file": f.get("file", "deploy/env.sh"),
                                "email": "Dana Dev <dana@example.com>",
                                "repository": f.get("repo", "https://github.com/acme/infra.git"),
                                "timestamp": "2023-11-05 09:00:00 +0000",
                                "line": f.get("line", 3),
                            }
                        }
                    },
                    "SourceID": 1,
                    "SourceType": 16,
                    "SourceName": "trufflehog - git",
                    "DetectorType": 2,
                    "DetectorName": f.get("detector", "AWS"),
                    "DecoderName": "PLAIN",
                    "Verified": f.get("verified", True),
                    "Raw": f["secret"],
                    "RawV2": "",
                    "Redacted": f["secret"][:4] + "****",
                    "ExtraData": f.get(
                        "extra",
                        {"account": "123456789012", "arn": "arn:aws:iam::123456789012:user/ci"},
                    ),
                    "StructuredData": None,
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def detect_secrets(findings: list[dict]) -> bytes:
    results: dict[str, list] = {}
    for f in findings:
        results.setdefault(f.get("file", "app/settings.py"), []).append(
            {
                "type": f.get("type", "AWS Access Key"),
                "filename": f.get("file", "app/settings.py"),
                "hashed_secret": hashlib.sha1(f["secret"].encode()).hexdigest(),
                "is_verified": False,
                "line_number": f.get("line", 7),
                **({"is_secret": f["is_secret"]} if "is_secret" in f else {}),
            }
        )
    return json.dumps(
        {
            "version": "1.4.0",
            "plugins_used": [{"name": "AWSKeyDetector"}],
            "filters_used": [],
            "results": results,
            "generated_at": "2024-03-02T08:00:00Z",
        }
    ).encode()
