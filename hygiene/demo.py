"""Demo data for `make run`: people, teams, sources and findings imported through the real
import path. Idempotent: a second run finds the demo marker and does nothing."""

from django.contrib.auth.models import Group, User
from django.db import transaction

from hygiene import roles
from hygiene.models import OwnershipRule, Source, Team

PASSWORD = "leakline-demo"
LOGINS = [
    ("lead", PASSWORD, "Security lead"),
    ("engineer", PASSWORD, "Engineer"),
    ("manager", PASSWORD, "Manager"),
]


@transaction.atomic
def seed() -> bool:
    if User.objects.filter(username="lead").exists():
        return False
    people = {}
    for username, first, last, group in [
        ("lead", "Lena", "Lindqvist", roles.LEAD),
        ("engineer", "Erik", "Eriksen", roles.ENGINEER),
        ("engineer2", "Ada", "Okafor", roles.ENGINEER),
        ("manager", "Maria", "Moreau", roles.MANAGER),
    ]:
        user = User.objects.create_user(
            username, f"{username}@demo.leakline.test", PASSWORD, first_name=first, last_name=last
        )
        user.groups.add(Group.objects.get(name=group))
        people[username] = user
    payments = Team.objects.create(name="Payments", slug="payments")
    platform = Team.objects.create(name="Platform", slug="platform")
    payments.members.add(people["engineer"])
    platform.members.add(people["engineer2"], people["engineer"])
    OwnershipRule.objects.create(position=10, team=payments, repo_pattern="*payments*")
    OwnershipRule.objects.create(position=20, team=platform, repo_pattern="*infra*")
    OwnershipRule.objects.create(position=30, team=platform, resource_pattern="arn:aws:*")
    for slug, name, kind, fmt in [
        ("gitleaks-ci", "gitleaks in CI", "scanner", "gitleaks"),
        ("trufflehog-nightly", "TruffleHog nightly", "scanner", "trufflehog"),
        ("github", "GitHub secret scanning", "scanner", "github-secret-scanning"),
        ("prowler-aws", "Prowler (AWS)", "auditor", "prowler"),
        ("aws-rotations", "AWS CloudTrail rotations", "rotator", "aws-cloudtrail"),
    ]:
        Source.objects.create(slug=slug, name=name, kind=kind, default_format=fmt)
    return True
