import os
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from hygiene import roles
from hygiene.models import Source, SourceToken, Team

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Each test its own cache keys (the real Redis of REDIS_URL when set): counters such as
    failed logins (hygiene.login_throttle) outlive a test's transaction."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright can't download its own browser here: drive Debian's Chromium.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def playwright(playwright):
    """pytest-playwright's, and then: Django's database connections opened in this thread while
    Playwright ran are closed before it stops. Its event loop runs (in a greenlet) in this
    thread from the first browser test to the end of the session, and while a loop runs,
    asgiref keeps this thread's connections apart (per context): once it stops, Django sees
    only the others, and those from the browser tests onwards outlived the test database
    ("database test_leakline is being accessed by other users" at teardown)."""
    yield playwright
    from django.db import connections

    connections.close_all()


def make_user(username: str, group: str | None, **extra) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def team(db):
    return Team.objects.create(name="Payments", slug="payments", email="payments@example.com")


@pytest.fixture
def other_team(db):
    return Team.objects.create(name="Platform", slug="platform")


@pytest.fixture
def lead(db):
    return make_user("lena", roles.LEAD, first_name="Lena", last_name="Lead")


@pytest.fixture
def second_lead(db):
    return make_user("sam", roles.LEAD, first_name="Sam", last_name="Second")


@pytest.fixture
def engineer(db, team):
    user = make_user("erik", roles.ENGINEER, first_name="Erik", last_name="Engineer")
    team.members.add(user)
    return user


@pytest.fixture
def manager(db):
    return make_user("maria", roles.MANAGER, first_name="Maria", last_name="Manager")


@pytest.fixture
def outsider(db):
    """Logged in, but in no role and no team: sees nothing."""
    return make_user("olga", None)


@pytest.fixture
def source(db):
    return Source.objects.create(
        slug="gitleaks-ci", name="gitleaks in CI", kind="scanner", default_format="gitleaks"
    )


@pytest.fixture
def source_token(source):
    raw, prefix, digest = SourceToken.generate()
    SourceToken.objects.create(source=source, prefix=prefix, token_hash=digest, name="ci")
    return raw


@pytest.fixture
def fixture_bytes():
    def read(*parts: str) -> bytes:
        return FIXTURES.joinpath(*parts).read_bytes()

    return read
