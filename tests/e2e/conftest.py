import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

ARTIFACTS = Path(os.environ.get("LEAKLINE_ARTIFACTS", "test-artifacts"))


@pytest.fixture
def login(page, live_server):
    def do(user):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do


@pytest.fixture
def screenshot(page):
    """Saves a full-page screenshot under test-artifacts/ (kept out of git)."""

    def shoot(name: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return shoot
