"""Helpers every importer's paths go through (hygiene.importers.base)."""

import pytest

from hygiene.importers.base import path_in_checkout


@pytest.mark.parametrize(
    ("reported", "stored"),
    [
        # GitLab's CI_PROJECT_DIR: Docker and Kubernetes executors.
        ("/builds/acme/api/tests/fixtures/slack.json", "tests/fixtures/slack.json"),
        # Kubernetes since runner 14, a host-bound /builds: <short token>/<concurrent id>/.
        ("/builds/DFtgsufb/0/acme/api/src/app.py", "src/app.py"),
        ("/builds/t1_9oyyF1/3/acme/api/src/app.py", "src/app.py"),  # a glrt- token's
        # A group named like a word, a project named by a year: no job's token.
        ("/builds/frontend/2024/src/main/app.env", "src/main/app.env"),
        # The shell executor; a Windows runner.
        ("/home/gitlab-runner/builds/t1_9oyyF1/0/hats-for-cats/web/.env", ".env"),
        ("C:\\GitLab-Runner\\builds\\183c56d5\\0\\mygroup\\myproject\\app\\.env", "app/.env"),
        # A file in an archive, scanned on Windows: the archive's path has backslashes.
        ("build\\dist.zip!config/app.env", "build/dist.zip!config/app.env"),
        ("D:\\a\\api\\api\\out\\a.zip!b.tar!c/d.env", "out/a.zip!b.tar!c/d.env"),
        ("/builds/acme/api/dist.zip!config/app.env", "dist.zip!config/app.env"),
        # No checkout: as reported.
        ("builds/acme/api/ci.env", "builds/acme/api/ci.env"),  # the repository's builds/
        ("/srv/builds/acme/api/ci.env", "/srv/builds/acme/api/ci.env"),
        ("/builds/acme/api/", "/builds/acme/api/"),  # the checkout itself
        ("docs/x!a\\b.md", "docs/x!a\\b.md"),  # a POSIX name with a backslash
    ],
)
def test_paths_in_a_gitlab_checkout_or_a_windows_archive(reported, stored):
    assert path_in_checkout(reported) == stored


def test_a_project_in_a_subgroup_keeps_its_name():
    # /builds/group/subgroup/project/: the path alone can't tell a subgroup's project from a
    # directory of a group's project; one namespace level is taken off.
    assert path_in_checkout("/builds/group/sub/proj/src/app.py") == "proj/src/app.py"
