"""GitHub secret scanning alerts.

Accepts (1) the REST "list secret scanning alerts" response for a repository, organization or
enterprise (a JSON array of alerts, streamed; also the pages ``gh api --paginate`` writes,
and the alerts one a line as ``--jq '.[]'`` or a log shipper writes them) and (2) one decoded
``secret_scanning_alert`` (or ``secret_scanning_alert_location``) webhook delivery, or one
bare alert object.
``parse_webhook(payload)`` handles a delivery the web hook endpoint has already decoded and
returns ``(action, Observation)``.

The alert's ``secret`` is the raw value (GitHub returns it unless the caller asked
``hide_secret=true``); it goes to ``secret_value`` only. Webhook deliveries never carry it:
without it, a digest of the alert (host, repository, number) stands for the secret, as GitHub
raises one alert per secret and repository.
See docs/formats/github-secret-scanning.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import IO
from urllib.parse import urlsplit

from hygiene.taxonomy import SecretType, guess_secret_type, guess_secret_type_from_value

from .base import ImportFormatError, Item, Observation, first_char
from .leakline import (
    arrays_in_turn,
    clean,
    dict_at,
    object_at,
    stream_json,
    text_at,
    to_datetime,
    whole_number,
)

# GitHub's secret_type ids (provider patterns and generic patterns) → our taxonomy. Types not
# listed fall back to the value's shape, then to the names; see _secret_type.
SECRET_TYPES: dict[str, SecretType] = {
    "aws_access_key_id": SecretType.AWS_ACCESS_KEY,
    "aws_secret_access_key": SecretType.AWS_SECRET_KEY,
    "aws_session_token": SecretType.AWS_SESSION_TOKEN,
    "aws_temporary_access_key_id": SecretType.AWS_SESSION_TOKEN,
    "github_personal_access_token": SecretType.GITHUB_TOKEN,
    "github_oauth_access_token": SecretType.GITHUB_TOKEN,
    "github_refresh_token": SecretType.GITHUB_TOKEN,
    "github_app_installation_access_token": SecretType.GITHUB_TOKEN,
    "github_ssh_private_key": SecretType.PRIVATE_KEY,
    "gitlab_access_token": SecretType.GITLAB_TOKEN,
    "azure_storage_account_key": SecretType.AZURE_STORAGE_KEY,
    "azure_storage_account_key_identifiable": SecretType.AZURE_STORAGE_KEY,
    "azure_sas_token": SecretType.AZURE_SAS,
    "azure_active_directory_application_secret": SecretType.AZURE_CREDENTIAL,
    "azure_active_directory_user_credential": SecretType.AZURE_CREDENTIAL,
    "azure_entra_id_client_secret": SecretType.AZURE_CREDENTIAL,
    "google_api_key": SecretType.GCP_KEY,
    "google_cloud_private_key_id": SecretType.GCP_KEY,
    "google_cloud_service_account_credentials": SecretType.GCP_KEY,
    "google_oauth_client_secret": SecretType.GCP_KEY,
    "google_oauth_access_token": SecretType.GCP_KEY,
    "google_oauth_refresh_token": SecretType.GCP_KEY,
    "slack_api_token": SecretType.SLACK_TOKEN,
    "slack_incoming_webhook_url": SecretType.CHAT_WEBHOOK,
    "slack_workflow_webhook_url": SecretType.CHAT_WEBHOOK,
    "discord_bot_token": SecretType.SLACK_TOKEN,
    "microsoft_teams_incoming_webhook": SecretType.CHAT_WEBHOOK,
    "stripe_api_key": SecretType.STRIPE_KEY,
    "stripe_legacy_api_key": SecretType.STRIPE_KEY,
    "stripe_live_restricted_key": SecretType.STRIPE_KEY,
    "stripe_test_restricted_key": SecretType.STRIPE_KEY,
    "stripe_test_secret_key": SecretType.STRIPE_KEY,
    "rsa_private_key": SecretType.PRIVATE_KEY,
    "ec_private_key": SecretType.PRIVATE_KEY,
    "pgp_private_key": SecretType.PRIVATE_KEY,
    "openssh_private_key": SecretType.PRIVATE_KEY,
    "putty_private_key": SecretType.PRIVATE_KEY,
    "mongodb_connection_string": SecretType.DATABASE_CREDENTIAL,
    "mysql_connection_string": SecretType.DATABASE_CREDENTIAL,
    "postgres_connection_string": SecretType.DATABASE_CREDENTIAL,
    "http_basic_authentication_header": SecretType.GENERIC_PASSWORD,
    "http_bearer_authentication_header": SecretType.API_KEY,
    "password": SecretType.GENERIC_PASSWORD,
    "json_web_token": SecretType.JWT,
}

VALIDITY = {"active": "valid", "inactive": "invalid", "unknown": "unknown"}
# The alert's resolution → our tool_resolution. pattern_edited / pattern_deleted close the
# alert because the custom pattern changed, not because someone triaged it.
RESOLUTIONS = {
    "false_positive": "false_positive",
    "used_in_tests": "used_in_tests",
    "wont_fix": "wont_fix",
    "revoked": "revoked",
    "pattern_edited": "resolved",
    "pattern_deleted": "resolved",
}


def parse(stream: IO[bytes]) -> Iterator[Item]:
    stream, char = first_char(stream)
    if char == "[":
        yield from _alerts(stream)
    elif char == "{":
        yield from _objects(stream)
    else:
        raise ImportFormatError(
            "not a GitHub secret scanning report: expected a JSON array of alerts"
        )


def _alerts(stream: IO[bytes]) -> Iterator[Observation]:
    """The list-alerts array, also as ``gh api --paginate`` writes it: one array per page, one
    after another (or, with ``--slurp``, an array of the page arrays). Streamed; a page is at
    most 100 alerts."""
    for here, value in arrays_in_turn(stream, "another page of alerts (an array)", "page"):
        if isinstance(value, list):  # --slurp: this item is a page
            for i, alert in enumerate(value):
                yield _alert(alert, f"{here}[{i}]")
        else:
            yield _alert(value, here)


def _objects(stream: IO[bytes]) -> Iterator[Observation]:
    """One alert or webhook delivery, or several one after another: ``gh api --paginate
    .../secret-scanning/alerts --jq '.[]'`` writes one alert object a line (JSON Lines), as
    do log shippers that split the list. Streamed, one object at a time."""
    events = stream_json(stream, {""}, watch={""}, multiple_values=True)
    count = 0
    for kind, _prefix, value in events:
        if kind == "begin":
            if value != "an object":
                raise ImportFormatError(
                    f"expected another alert (an object) after the first, found {value}",
                    f"after object {count}",
                )
            continue
        count += 1
        here = "$" if count == 1 else f"object {count} $"
        doc = object_at(value, here)
        if "action" in doc and "alert" in doc:
            yield parse_webhook(doc, here)[1]
        elif "number" in doc and "secret_type" in doc:
            yield alert_observation(doc, here)
        else:
            raise ImportFormatError(
                "not a GitHub secret scanning report: expected the list-alerts array, "
                "alerts one a line, one alert or a secret_scanning_alert webhook delivery",
                here,
            )


def _alert(value, where: str) -> Observation:
    alert = object_at(value, where, "an alert object")
    if "secret_type" not in alert or "number" not in alert:
        raise ImportFormatError(
            "not a GitHub secret scanning alert: 'number' and 'secret_type' are required",
            where,
        )
    return alert_observation(alert, where)


def parse_webhook(payload: dict, where: str = "$") -> tuple[str, Observation]:
    """One decoded ``secret_scanning_alert`` webhook delivery → (action, Observation).

    Actions seen: created, reopened, resolved, revoked, validated, publicly_leaked, assigned,
    unassigned (any other non-empty action is passed through). A
    ``secret_scanning_alert_location`` delivery (action "created" with a ``location``) gives
    the new location. Deliveries never include the secret value.
    """
    if not isinstance(payload, dict):
        raise ImportFormatError("not a secret_scanning_alert delivery: expected an object", where)
    action = payload.get("action")
    if not isinstance(action, str) or not action.strip():
        raise ImportFormatError(
            "not a secret_scanning_alert delivery: no 'action'", f"{where}.action"
        )
    alert = payload.get("alert")
    if not isinstance(alert, dict):
        raise ImportFormatError(
            "not a secret_scanning_alert delivery: no 'alert' object", f"{where}.alert"
        )
    if "secret_type" not in alert or "number" not in alert:
        raise ImportFormatError(
            "not a secret_scanning_alert delivery: the alert has no 'number'/'secret_type'",
            f"{where}.alert",
        )
    repository = dict_at(payload, "repository", where)
    location, location_type = None, ""
    if isinstance(payload.get("location"), dict):
        location = dict_at(payload["location"], "details", f"{where}.location")
        location_type = text_at(payload["location"], "type", f"{where}.location")
    observation = alert_observation(
        alert,
        f"{where}.alert",
        repository=repository,
        location=location,
        location_type=location_type,
        action=action,
    )
    return action, observation


def alert_observation(
    alert: dict,
    where: str,
    *,
    repository: dict | None = None,
    location: dict | None = None,
    location_type: str = "",
    action: str = "",
) -> Observation:
    """One alert object (REST or webhook ``alert``) → Observation."""
    number = whole_number(alert.get("number"), f"{where}.number")
    if number is None:
        raise ImportFormatError("missing required field", f"{where}.number")
    secret_type_id = text_at(alert, "secret_type", where, required=True)
    display = text_at(alert, "secret_type_display_name", where)
    secret = alert.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise ImportFormatError("should be a string", f"{where}.secret")
    secret = secret or None

    repo_obj = repository if repository else dict_at(alert, "repository", where)
    root = where.removesuffix(".alert")  # a delivery's alert: its repository is beside it
    repo_where = f"{root}.repository" if repository else f"{where}.repository"
    repo = text_at(repo_obj, "full_name", repo_where)
    html_url = text_at(alert, "html_url", where)
    if not repo:
        # The repository-level list (GET /repos/{owner}/{repo}/secret-scanning/alerts) has no
        # "repository" member: the alert's own URLs name it.
        repo = _repo_from_urls(html_url, text_at(alert, "url", where))
    if not html_url:
        repo_html = text_at(repo_obj, "html_url", repo_where)
        if repo_html:
            html_url = f"{repo_html}/security/secret-scanning/{number}"

    state = text_at(alert, "state", where)
    resolution = text_at(alert, "resolution", where)
    tool_resolution = _resolution(state, resolution, action)

    validity_raw = text_at(alert, "validity", where)
    validity = VALIDITY.get(validity_raw, "unknown")

    loc_where = (
        f"{root}.location.details" if location is not None else f"{where}.first_location_detected"
    )
    loc = location if location is not None else dict_at(alert, "first_location_detected", where)
    path = text_at(loc, "path", loc_where).lstrip("/")
    line = whole_number(loc.get("start_line"), f"{loc_where}.start_line")
    commit = text_at(loc, "commit_sha", loc_where)
    url = html_url
    if not path:
        # Issue, pull request, wiki, discussion locations: link to where it was posted.
        for key, value in loc.items():
            if key.endswith("_url") and isinstance(value, str) and value:
                url = url or value
                break

    notes = []
    where_found = _location_kind(loc, location_type)
    if where_found:  # a location delivery's is a new place, not the first
        notes.append(f"{'Found' if location is not None else 'First found'} in {where_found}.")
    if alert.get("publicly_leaked") is True or action == "publicly_leaked":
        notes.append("The secret was also found in public.")
    if alert.get("multi_repo") is True:
        notes.append("Found in more than one repository.")
    if alert.get("push_protection_bypassed") is True:
        notes.append("Push protection was bypassed.")
    if alert.get("has_more_locations") is True:
        notes.append("GitHub lists more locations for this alert.")
    if alert.get("is_base64_encoded") is True:
        notes.append("The secret was found base64-encoded.")

    tool_ids = {"number": str(number)}
    if html_url:
        tool_ids["html_url"] = html_url
    api_url = text_at(alert, "url", where)
    if api_url:
        tool_ids["url"] = api_url
    blob = text_at(loc, "blob_sha", loc_where)
    if blob:
        tool_ids["blob_sha"] = blob

    # The alert has no commit date; it was raised when GitHub found the secret, so the secret
    # was exposed at least since then (the secret's "exposed since", not the import's time).
    found_at = to_datetime(alert.get("created_at"), f"{where}.created_at", strict=False)

    return Observation(
        rule=secret_type_id,
        secret_type=_secret_type(secret_type_id, display, secret),
        secret_value=secret,
        # Without the value (``hide_secret=true``, webhook deliveries) the alert names the
        # secret: GitHub raises one alert per secret and repository, whatever its places.
        secret_sha1=None if secret else _alert_identity(html_url, api_url, repo, number),
        repo=clean(repo, secret),
        path=clean(path, secret),
        line=line,
        commit=clean(commit, secret),
        committed_at=found_at,
        url=clean(url, secret),
        validity=validity,
        title=display or secret_type_id,
        description=" ".join(notes),
        tool_resolution=tool_resolution,
        tool_ids={k: v for k, v in tool_ids.items() if clean(v, secret)},
    )


def _alert_identity(html_url: str, api_url: str, repo: str, number: int) -> str | None:
    """What stands for a secret GitHub does not show (``hide_secret=true``, deliveries), in
    place of its value's SHA-1: the alert (host, repository, number). GitHub raises one alert
    per secret and repository, so two alerts are two secrets even when nothing tells their
    places apart (locations in issue comments, or none: GHES 3.4-3.6 lists have no location).
    In memory only: the import keys it (HMAC) like any SHA-1. None without a repository."""
    if not repo:
        return None
    host = _host(html_url) or _host(api_url)
    host = host.removeprefix("api.")  # api.github.com: the API of github.com
    basis = "\x1f".join(("github-alert", host.lower(), repo.lower(), str(number)))
    # (A lone surrogate in a repository name, from a JSON \\u escape, has no UTF-8: kept as is.)
    return hashlib.sha1(basis.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # "http://[bad": no host to tell
        return ""


_HTML_ALERT_URL = re.compile(r"^https?://[^/]+/([^/\s]+/[^/\s]+)/security/secret-scanning/\d+")
_API_ALERT_URL = re.compile(r"^https?://[^/]+/(?:api/v3/)?repos/([^/\s]+/[^/\s]+)/secret-scanning/")


def _repo_from_urls(html_url: str, api_url: str) -> str:
    """owner/name from an alert's html_url or API url (GitHub.com or GitHub Enterprise)."""
    for pattern, url in ((_HTML_ALERT_URL, html_url), (_API_ALERT_URL, api_url)):
        match = pattern.match(url) if url else None
        if match:
            return match.group(1)
    return ""


# Where a secret outside the code was found: a location's ``type`` (webhook deliveries and the
# locations list), or the one ``*_url`` key of its details (``first_location_detected`` has no
# type). Constant text for the description, so nothing of the location is quoted.
LOCATION_KINDS = {
    "wiki_commit": "the repository's wiki",
    "issue_title": "an issue title",
    "issue_body": "an issue description",
    "issue_comment": "an issue comment",
    "discussion_title": "a discussion title",
    "discussion_body": "a discussion body",
    "discussion_comment": "a discussion comment",
    "pull_request_title": "a pull request title",
    "pull_request_body": "a pull request description",
    "pull_request_comment": "a pull request comment",
    "pull_request_review": "a pull request review",
    "pull_request_review_comment": "a pull request review comment",
}


def _location_kind(details: dict, location_type: str) -> str:
    if location_type:
        return LOCATION_KINDS.get(location_type, "")
    if "page_url" in details:  # a wiki commit's details: path, lines, commit and page_url
        return LOCATION_KINDS["wiki_commit"]
    for key in details:
        kind = LOCATION_KINDS.get(key.removesuffix("_url")) if key.endswith("_url") else None
        if kind:
            return kind
    return ""


def _resolution(state: str, resolution: str, action: str) -> str:
    if resolution in RESOLUTIONS:
        return RESOLUTIONS[resolution]
    if state == "resolved" or action == "resolved":
        return "resolved"
    if action == "revoked":
        return "revoked"
    if state == "open" and not action:
        # A list of alerts says so: a dismissal that came from GitHub (reopened there) is
        # undone. Not a webhook delivery's: they may arrive out of order (a late "validated"
        # after "resolved"); GitHub's own reopening comes as the "reopened" action.
        return "open"
    return ""


def _secret_type(secret_type_id: str, display: str, secret: str | None) -> str:
    exact = SECRET_TYPES.get(secret_type_id.lower())
    if exact is not None:
        return exact.value
    by_value = guess_secret_type_from_value(secret)
    if by_value is not None:
        return by_value.value
    guessed = guess_secret_type(secret_type_id.replace("_", " "), display)
    if guessed is SecretType.GENERIC_SECRET and _looks_like_provider_credential(secret_type_id):
        # GitHub's partner patterns are provider API credentials ("adafruit_io_key").
        return SecretType.API_KEY.value
    return guessed.value


def _looks_like_provider_credential(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(("_key", "_token", "_api_key", "_secret", "_key_id"))
