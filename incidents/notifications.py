"""The notification outbox: rows written in the transaction that decided to notify, sent by rq
jobs after commit, retried with exponential backoff, never lost and never sent twice by the sweep.

Lifecycle of a ``Notification`` row::

    pending ──claim (conditional UPDATE, attempts + 1)──▶ sending ──▶ sent
       ▲                                                    │
       └──── transport error: next_attempt_at += backoff ◀──┤──▶ failed (permanent error or
       └──── worker died: lease expired, re-queued by the sweep ◀┘    MAX_ATTEMPTS reached)

While a row is ``sending``, ``next_attempt_at`` holds the time it was claimed (its lease start);
``notifications_requeue`` (run by every sweep) puts rows whose lease is older than
``SENDING_TIMEOUT`` back to pending, which is how a worker killed mid-send loses nothing.
``dedupe_key`` is unique, so deciding to notify twice creates one row.

Webhook rows name their target as ``team:<id>`` and read the URL from the team when sending:
the incoming-webhook URL is itself a credential and isn't copied into the outbox.
"""

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from hygiene import jobs, roles
from hygiene.login_throttle import email_delivers
from incidents.models import (
    IncidentStatus,
    Notification,
    NotificationStatus,
    Step,
    TimelineEvent,
)

log = logging.getLogger(__name__)

EMAIL = "email"
WEBHOOK = "webhook"
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=1)  # 1, 2, 4, 8 minutes between attempts
SENDING_TIMEOUT = timedelta(minutes=5)  # a claim older than this belongs to a dead worker
WEBHOOK_TIMEOUT_SECONDS = 10
SEND_JOB = "incidents.notifications.send_notification"
SEND_QUEUE = "notifications"
DIGEST_MAX_ITEMS = 50
NO_MAIL_SERVER = "no mail server configured (EMAIL_HOST)"


class TransportError(Exception):
    """A channel couldn't deliver. ``permanent`` errors (bad URL, 4xx) aren't retried."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message[:300]
        self.permanent = permanent


class EmailTransport:
    def send(self, notification: Notification) -> None:
        if not email_delivers():
            # Without EMAIL_HOST the settings pick the dummy backend, which "sends" by dropping
            # the message: recorded as sent, the incident would say the team was told.
            raise TransportError(NO_MAIL_SERVER, permanent=True)
        message = EmailMessage(
            subject=notification.subject,
            body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.recipient],
            headers={"X-Leakline-Notification": str(notification.pk)},
        )
        try:
            message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError("recipient refused by the mail server", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"mail server: {type(exc).__name__}") from exc


def sign_webhook(body: bytes, timestamp: str, key: str) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body`` — the timestamp is signed
    too, so a receiver can reject replays of an old delivery."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def slack_escape(text: str) -> str:
    """Slack's documented escaping of its three control characters (&, <, >): the text shows
    as typed and can't open a mention (``<!channel>``, ``<@U…>``) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class WebhookTransport:
    """Slack-compatible JSON (``text`` + ``blocks``) POSTed to the team's incoming webhook,
    signed with ``LEAKLINE_WEBHOOK_SIGNING_KEY`` (headers ``X-Leakline-Timestamp`` and
    ``X-Leakline-Signature``). ``X-Leakline-Delivery`` is the same on every retry of one
    notification, so a receiver can drop a duplicate after a worker crash."""

    def payload(self, notification: Notification) -> bytes:
        """Subject and body carry text from tools and people (a rotator's failure detail, an
        incident's title): escaped, Slack reads ``<!channel>`` as a live @channel and
        ``<https://…|label>`` as a link disguised by its label. ``text`` (the notification's
        fallback) and the section are mrkdwn; the header is plain text, escaped as well because
        Slack decodes those three entities there too."""
        subject = slack_escape(notification.subject)
        data = {
            "text": subject,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": subject}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": slack_escape(notification.body)},
                },
            ],
        }
        return json.dumps(data).encode()

    def target_url(self, notification: Notification) -> str:
        from hygiene.models import Team

        kind, _, ident = notification.recipient.partition(":")
        team = Team.objects.filter(pk=int(ident)).first() if kind == "team" and ident else None
        url = team.webhook_url if team else ""
        if not url:
            raise TransportError("the team has no webhook URL", permanent=True)
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise TransportError("webhook URL must be http(s)", permanent=True)
        return url

    def send(self, notification: Notification) -> None:
        url = self.target_url(notification)
        body = self.payload(notification)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Leakline",
            "X-Leakline-Delivery": str(notification.pk),
            "X-Leakline-Timestamp": timestamp,
        }
        if settings.LEAKLINE_WEBHOOK_SIGNING_KEY:
            headers["X-Leakline-Signature"] = sign_webhook(
                body, timestamp, settings.LEAKLINE_WEBHOOK_SIGNING_KEY
            )
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked)
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
                response.read(1024)
        except urllib.error.HTTPError as exc:
            # Never the URL or response body in the error: the URL is a credential.
            retryable = exc.code >= 500 or exc.code in (408, 429)
            raise TransportError(
                f"webhook answered HTTP {exc.code}", permanent=not retryable
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"webhook unreachable: {type(reason).__name__}") from exc


TRANSPORTS = {EMAIL: EmailTransport, WEBHOOK: WebhookTransport}


# ── creating rows ─────────────────────────────────────────────────────────────────────────────


def notifications_create(rows: list[Notification]) -> list[Notification]:
    """Insert the rows whose ``dedupe_key`` is new and enqueue their send jobs after commit.
    Returns the rows created (the others already existed: that alert already happened)."""
    if not rows:
        return []
    keys = [row.dedupe_key for row in rows]
    existing = set(
        Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    )
    fresh = list({row.dedupe_key: row for row in rows if row.dedupe_key not in existing}.values())
    if not fresh:
        return []
    try:
        with transaction.atomic():
            created = Notification.objects.bulk_create(fresh)
    except IntegrityError:  # a concurrent caller created one of them: keep the others
        created = []
        for row in fresh:
            row.pk = None
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                created.append(row)
            except IntegrityError:
                if not Notification.objects.filter(dedupe_key=row.dedupe_key).exists():
                    raise  # not a duplicate: a real error
                continue
    enqueue_sends([row.pk for row in created])
    return created


def enqueue_sends(ids: list[int]) -> None:
    """Send jobs for these rows once the transaction commits: one Redis round trip for the lot
    (``enqueue_many`` in a pipeline), or in-process without REDIS_URL. If Redis is down the rows
    stay pending and the next sweep enqueues them again — the outbox is the truth, not Redis."""
    if not ids:
        return
    if not settings.REDIS_URL:
        for pk in ids:
            jobs.enqueue(SEND_JOB, pk, queue=SEND_QUEUE)
        return
    ids = list(ids)
    transaction.on_commit(lambda: _push_send_jobs(ids))


def _push_send_jobs(ids: list[int]) -> None:
    import django_rq
    from rq import Queue

    try:
        queue = django_rq.get_queue(SEND_QUEUE)
        queue.enqueue_many([Queue.prepare_data(SEND_JOB, args=(pk,)) for pk in ids])
    except Exception:
        log.exception("could not enqueue %s notification(s); the sweep will retry", len(ids))


def notification_enqueue(
    *,
    channel: str,
    recipient: str,
    kind: str,
    subject: str,
    body: str,
    dedupe_key: str,
    user=None,
    incident=None,
    step=None,
) -> Notification | None:
    """One outbox row, idempotent on ``dedupe_key``: None when it already existed."""
    if channel not in TRANSPORTS:
        raise ValueError(f"unknown channel {channel!r}")
    created = notifications_create(
        [
            Notification(
                channel=channel,
                recipient=recipient,
                kind=kind,
                subject=subject[:300],
                body=body,
                dedupe_key=dedupe_key[:200],
                user=user,
                incident=incident,
                step=step,
            )
        ]
    )
    return created[0] if created else None


def _site_url(name: str, fallback: str, *args) -> str:
    try:
        path = reverse(name, args=args)
    except NoReverseMatch:
        path = fallback
    return settings.SITE_URL + path


def incident_url(incident_id: int) -> str:
    return _site_url("incident_detail", f"/incidents/{incident_id}/", incident_id)


def _emailable(users) -> list:
    seen, result = set(), []
    for user in users:
        if user is None or not user.is_active or not user.email or user.pk in seen:
            continue
        seen.add(user.pk)
        result.append(user)
    return result


def reachable(users, team, *, webhook: bool = False) -> bool:
    """Whether a step event for ``users`` reaches anyone (step_rows' fallbacks: the team's
    address, and its webhook when the event posts there)."""
    if _emailable(users):
        return True
    return team is not None and bool(team.email or (webhook and team.webhook_url))


def security_leads() -> list:
    User = get_user_model()
    return list(
        User.objects.filter(Q(groups__name=roles.LEAD) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


STEP_EVENTS = {
    # event: (kind, subject prefix, template)
    "due_soon": ("due_soon", "Due soon", "incidents/email/step_due_soon.txt"),
    "overdue": ("overdue", "Overdue", "incidents/email/step_overdue.txt"),
    "escalated": ("escalated", "Escalated to security leads", "incidents/email/step_escalated.txt"),
    "nag": ("nag", "Still overdue", "incidents/email/step_nag.txt"),
    "alert": ("alert", "Alert", "incidents/email/step_alert.txt"),
    "opened": ("opened", "Opened", "incidents/email/step_opened.txt"),
}


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str
    body: str


def step_message(
    *, step: Step, event: str, now: datetime | None = None, extra: dict | None = None
) -> Message:
    """Subject and plain-text body for one step event (rendered once, whoever receives it)."""
    kind, prefix, template = STEP_EVENTS[event]
    incident = step.incident
    now = now or timezone.now()
    context = {
        "step": step,
        "incident": incident,
        "state": step.state(now),
        "now": now,
        "url": incident_url(incident.pk),
        "assignee": step.assignee,
        "owner": incident.owner,
        "nag_period": settings.LEAKLINE_NAG_PERIOD_MINUTES,
        **(extra or {}),
    }
    subject = f"[Leakline] {prefix}: {incident.reference} · {step.position}. {step.title}"
    body = render_to_string(template, context).strip() + "\n"
    return Message(kind=kind, subject=subject[:300], body=body)


def step_rows(*, step: Step, message: Message, users, key: str, webhook: bool = False) -> list:
    """Unsaved outbox rows for one step event: an email per person (falling back to the team's
    address when nobody personal can be reached) and, with ``webhook``, one post to the team's
    webhook. ``key`` identifies this occurrence of the event; each row's dedupe key is ``key``
    plus its recipient, so repeating the decision never repeats the message."""
    incident = step.incident
    common = {
        "kind": message.kind,
        "subject": message.subject,
        "body": message.body,
        "incident": incident,
        "step": step,
    }
    rows = [
        Notification(
            channel=EMAIL,
            recipient=user.email,
            user=user,
            dedupe_key=f"{key}:user:{user.pk}",
            **common,
        )
        for user in _emailable(users)
    ]
    team = incident.team
    if not rows and team is not None and team.email:
        rows.append(
            Notification(
                channel=EMAIL,
                recipient=team.email,
                dedupe_key=f"{key}:team-email:{team.pk}",
                **common,
            )
        )
    if webhook and team is not None and team.webhook_url:
        rows.append(
            Notification(
                channel=WEBHOOK,
                recipient=f"team:{team.pk}",
                dedupe_key=f"{key}:webhook:{team.pk}",
                **common,
            )
        )
    return rows


# One person told of this many steps by one sweep gets one message listing them: an import
# that opened hundreds of incidents at once has their steps fall due together.
SUMMARY_FROM = 6


def summarise_by_person(rows: list, event: str) -> tuple[list, dict[str, list[int]]]:
    """``rows`` (step_rows' of one sweep transition) with each person's e-mails, when they are
    SUMMARY_FROM or more, replaced by one listing their steps. Returns the rows and, for each
    summary's dedupe key, the steps it tells of."""
    by_person: dict[int, list] = {}
    for row in rows:
        if row.channel == EMAIL and row.user_id:
            by_person.setdefault(row.user_id, []).append(row)
    many = {pk for pk, listed in by_person.items() if len(listed) >= SUMMARY_FROM}
    if not many:
        return rows, {}
    kept = [row for row in rows if not (row.channel == EMAIL and row.user_id in many)]
    summarised: dict[str, list[int]] = {}
    prefix = STEP_EVENTS[event][1]
    for pk in sorted(many):
        listed = by_person[pk]
        shown = listed[:DIGEST_MAX_ITEMS]
        lines = [
            f"- {row.step.incident.reference} · {row.step.position}. {row.step.title}"
            f" — due {timezone.localtime(row.step.due_at):%Y-%m-%d %H:%M %Z}\n"
            f"  {incident_url(row.step.incident_id)}"
            for row in shown
        ]
        if len(listed) > len(shown):
            more = len(listed) - len(shown)
            lines.append(f"…and {more} more: {_site_url('my_work', '/my-work/')}")
        digest = hashlib.sha256("\n".join(r.dedupe_key for r in listed).encode()).hexdigest()
        key = f"summary:{event}:{digest[:24]}:user:{pk}"
        summarised[key] = [row.step_id for row in listed]
        kept.append(
            Notification(
                channel=EMAIL,
                recipient=listed[0].recipient,
                user=listed[0].user,
                kind=listed[0].kind,
                subject=f"[Leakline] {prefix}: {len(listed)} steps"[:300],
                body=f"{prefix}, {len(listed)} steps:\n\n" + "\n".join(lines) + "\n",
                dedupe_key=key,
            )
        )
    return kept, summarised


def step_notify(
    *,
    step: Step,
    event: str,
    users,
    key: str,
    webhook: bool = False,
    now: datetime | None = None,
    extra: dict | None = None,
) -> list[Notification]:
    """Render, create (idempotently) and enqueue one step event's notifications."""
    message = step_message(step=step, event=event, now=now, extra=extra)
    return notifications_create(
        step_rows(step=step, message=message, users=users, key=key, webhook=webhook)
    )


# Incidents the import policy opens at once, each told of on its own; more are told of in one
# message per person (a first import can open hundreds).
OPENED_ONE_BY_ONE = 3


def notify_opened(incidents: list, by: str) -> list[Notification]:
    """Incidents the import policy opened (critical or working secrets): nobody opened them, so
    nobody knew of them until their first steps' notices. Their owners (if the playbook gave
    one) or else the security leads, and the teams' webhooks, hear of each now, with its first
    step; many at once make one message per security lead, listing them."""
    if not incidents:
        return []
    if len(incidents) > OPENED_ONE_BY_ONE:
        return _notify_many_opened(incidents, by)
    sent = []
    leads = None
    for incident in incidents:
        first = incident.steps.order_by("position").first()
        if first is None:
            continue
        first.incident = incident
        users = [incident.owner] if incident.owner_id else []
        if not _emailable(users):
            leads = security_leads() if leads is None else leads
            users = leads
        sent += step_notify(
            step=first,
            event="opened",
            users=users,
            key=f"incident:{incident.pk}:opened",
            webhook=True,
        )
    return sent


def _notify_many_opened(incidents: list, by: str) -> list[Notification]:
    """One message per security lead listing them; one per team webhook listing the team's;
    the teams' addresses when no lead has one."""
    span = f"{incidents[0].pk}-{incidents[-1].pk}"

    def message(listed: list) -> dict:
        shown = listed[:DIGEST_MAX_ITEMS]
        context = {
            "by": by,
            "total": len(listed),
            "items": [{"incident": i, "url": incident_url(i.pk)} for i in shown],
            "more": len(listed) - len(shown),
            "list_url": _site_url("incident_list", "/incidents/") + "?status=open",
        }
        return {
            "kind": "opened",
            "subject": f"[Leakline] {len(listed)} incidents opened automatically ({by})"[:300],
            "body": render_to_string("incidents/email/opened_many.txt", context).strip() + "\n",
        }

    everything = message(incidents)
    leads = security_leads()
    rows = [
        Notification(
            channel=EMAIL,
            recipient=lead.email,
            user=lead,
            dedupe_key=f"opened:{span}:user:{lead.pk}",
            **everything,
        )
        for lead in leads
    ]
    by_team: dict[int, list] = {}
    for incident in incidents:
        if incident.team_id:
            by_team.setdefault(incident.team_id, []).append(incident)
    for listed in by_team.values():
        team = listed[0].team
        if team.webhook_url:
            rows.append(
                Notification(
                    channel=WEBHOOK,
                    recipient=f"team:{team.pk}",
                    dedupe_key=f"opened:{span}:webhook:{team.pk}",
                    **message(listed),
                )
            )
        if not leads and team.email:
            rows.append(
                Notification(
                    channel=EMAIL,
                    recipient=team.email,
                    dedupe_key=f"opened:{span}:team-email:{team.pk}",
                    **message(listed),
                )
            )
    return notifications_create(rows)


def _plain(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def notify_alert(*, step: Step, message: str, event_key: str = "") -> list[Notification]:
    """Tell the assignee, the owner and the team's webhook that something went wrong with a step
    (e.g. a rotator reported a failed rotation). ``message`` is our own one-line summary — never
    raw tool output. Same ``event_key`` (or, without one, the same message on the same day) →
    one alert. Call it inside the transaction that recorded the problem."""
    summary = _plain(message)
    if not summary:
        raise ValueError("an alert needs a message")
    occurrence = event_key or f"{timezone.localdate():%Y-%m-%d}:{summary}"
    digest = hashlib.sha256(occurrence.encode()).hexdigest()[:16]
    return step_notify(
        step=step,
        event="alert",
        users=[step.assignee, step.incident.owner],
        key=f"step:{step.pk}:alert:{digest}",
        webhook=True,
        extra={"message": summary},
    )


# ── sending ───────────────────────────────────────────────────────────────────────────────────


def backoff(attempts: int) -> timedelta:
    return BACKOFF_BASE * (2 ** max(attempts - 1, 0))


def send_notification(notification_id: int) -> str:
    """The rq job: claim the row (pending → sending, attempts + 1), send it, record the outcome.
    Returns sent | retry | failed | skipped (not pending, not due, or gone)."""
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.PENDING, next_attempt_at__lte=now
    ).update(status=NotificationStatus.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)
    if not claimed:
        return "skipped"
    notification = Notification.objects.get(pk=notification_id)
    try:
        transport = TRANSPORTS.get(notification.channel)
        if transport is None:
            raise TransportError(f"unknown channel {notification.channel!r}", permanent=True)
        transport().send(notification)
    except TransportError as exc:
        return _record_failure(notification, exc.message, permanent=exc.permanent)
    except Exception as exc:
        log.exception("notification %s: unexpected error while sending", notification_id)
        return _record_failure(notification, f"internal error: {type(exc).__name__}")
    Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.SENDING, attempts=notification.attempts
    ).update(status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="")
    return "sent"


def _record_failure(notification: Notification, error: str, *, permanent: bool = False) -> str:
    now = timezone.now()
    give_up = permanent or notification.attempts >= MAX_ATTEMPTS
    changes = {"last_error": error[:500]}
    if give_up:
        changes["status"] = NotificationStatus.FAILED
    else:
        changes["status"] = NotificationStatus.PENDING
        changes["next_attempt_at"] = now + backoff(notification.attempts)
    with transaction.atomic():
        updated = Notification.objects.filter(
            pk=notification.pk,
            status=NotificationStatus.SENDING,
            attempts=notification.attempts,
        ).update(**changes)
        if updated and give_up and notification.incident_id:
            # Naming the address undoes the escalation entry's "notified …" for that person.
            to = f" to {notification.recipient}" if notification.channel == EMAIL else ""
            TimelineEvent.objects.create(
                incident_id=notification.incident_id,
                step_id=notification.step_id,
                kind="notification_failed",
                actor_label="notifications",
                message=(
                    f"Could not deliver the {notification.kind} {notification.channel} "
                    f"notification{to} after {notification.attempts} attempt(s): {error[:200]}"
                ),
                data={"notification": notification.pk},
            )
    log.warning(
        "notification %s attempt %s failed (%s)%s",
        notification.pk,
        notification.attempts,
        error,
        "; giving up" if give_up else "; will retry",
    )
    return "failed" if give_up else "retry"


def notifications_requeue(*, now: datetime | None = None, limit: int = 500) -> int:
    """Recover rows a dead worker left in ``sending`` (lease older than SENDING_TIMEOUT) and
    enqueue the send job for every pending row that is due (new rows whose job was lost,
    retries whose backoff has passed). Sending stays idempotent: a second job for the same row
    finds it no longer pending and does nothing. Returns how many jobs were enqueued."""
    now = now or timezone.now()
    stale = Notification.objects.filter(
        status=NotificationStatus.SENDING, next_attempt_at__lte=now - SENDING_TIMEOUT
    ).values_list("pk", "attempts", "next_attempt_at")[:limit]
    for pk, attempts, lease in stale:
        give_up = attempts >= MAX_ATTEMPTS
        Notification.objects.filter(
            pk=pk, status=NotificationStatus.SENDING, next_attempt_at=lease
        ).update(
            status=NotificationStatus.FAILED if give_up else NotificationStatus.PENDING,
            last_error="the worker stopped while sending",
        )
        log.warning(
            "notification %s: sending lease expired, %s", pk, "failed" if give_up else "re-queued"
        )
    due = list(
        Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue_sends(due)
    return len(due)


def send_pending(limit: int = 100) -> dict:
    """Send due pending rows right here (no queue): the embedded mode's and tests' shortcut."""
    results: dict[str, int] = defaultdict(int)
    due = (
        Notification.objects.filter(
            status=NotificationStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in list(due):
        results[send_notification(pk)] += 1
    return dict(results)


# ── daily digest ──────────────────────────────────────────────────────────────────────────────


def digest_send(now: datetime | None = None) -> int:
    """One email per person with open steps due within 24 h or overdue (their own steps, and the
    unassigned steps of incidents they own), at most one per person per day. Returns how many
    digests were created."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    steps = (
        Step.objects.filter(
            completed_at__isnull=True,
            skipped_at__isnull=True,
            due_at__lte=now + timedelta(hours=24),
            incident__paused_at__isnull=True,
        )
        .exclude(incident__status=IncidentStatus.CLOSED)
        .select_related("incident", "assignee", "incident__owner")
        .order_by("due_at", "pk")
    )
    people: dict[int, dict] = {}
    for step in steps.iterator(chunk_size=1000):
        person = step.assignee or step.incident.owner
        if person is None or not person.is_active or not person.email:
            continue
        entry = people.setdefault(
            person.pk, {"user": person, "items": [], "overdue": 0, "total": 0}
        )
        entry["total"] += 1
        state = step.state(now)
        entry["overdue"] += state == "overdue"
        if len(entry["items"]) < DIGEST_MAX_ITEMS:
            entry["items"].append(
                {"step": step, "state": state, "url": incident_url(step.incident_id)}
            )
    rows = []
    for entry in people.values():
        user = entry["user"]
        context = {
            **entry,
            "day": day,
            "now": now,
            "more": entry["total"] - len(entry["items"]),
            "my_work_url": _site_url("my_work", "/my-work/"),
        }
        rows.append(
            Notification(
                channel=EMAIL,
                recipient=user.email,
                user=user,
                kind="digest",
                subject=(
                    f"[Leakline] {entry['total']} step(s) due, {entry['overdue']} overdue — {day}"
                ),
                body=render_to_string("incidents/email/digest.txt", context).strip() + "\n",
                dedupe_key=f"digest:{user.pk}:{day:%Y-%m-%d}",
            )
        )
    return len(notifications_create(rows))
