"""The outbox: idempotent rows, email and signed webhook delivery through a real rq worker
against Redis, retries with backoff, giving up, recovery of rows a dead worker left behind,
alerts and the daily digest."""

import hashlib
import hmac
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from incidents import notifications
from incidents.models import Notification, NotificationStatus, TimelineEvent
from incidents.notifications import (
    MAX_ATTEMPTS,
    SENDING_TIMEOUT,
    digest_send,
    notification_enqueue,
    notifications_requeue,
    notify_alert,
    send_notification,
    send_pending,
    sign_webhook,
)
from incidents.timers import sweep

pytest.register_assert_rewrite("tests.incidents.conftest_timers")
from tests.incidents.conftest_timers import T0, payload, run_worker  # noqa: E402

pytest_plugins = ["tests.incidents.conftest_timers"]

KEY = "webhook-signing-key-for-tests"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LEAKLINE_NAG_PERIOD_MINUTES = 60
    settings.LEAKLINE_WEBHOOK_SIGNING_KEY = KEY
    settings.SITE_URL = "https://leakline.example.com"


def at(offset: timedelta):
    return time_machine.travel(T0 + offset, tick=False)


@pytest.fixture
def hooked_team(team, webhook_server):
    team.webhook_url = webhook_server.url
    team.save()
    return team


def webhook_row(team, key="test:1", **extra) -> Notification:
    return notification_enqueue(
        channel="webhook",
        recipient=f"team:{team.pk}",
        kind="overdue",
        subject="[Leakline] Overdue: INC-1 · 1. Rotate the key",
        body="This step is overdue.",
        dedupe_key=key,
        **extra,
    )


def test_the_same_decision_twice_makes_one_row(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = webhook_row(team)
        second = webhook_row(team)
    assert first is not None and second is None
    assert Notification.objects.count() == 1
    assert len(callbacks) == 1  # one send job, enqueued on commit


def test_unknown_channels_are_refused(team):
    with pytest.raises(ValueError, match="unknown channel"):
        notification_enqueue(
            channel="pager",
            recipient="x",
            kind="k",
            subject="s",
            body="b",
            dedupe_key="k",
        )


def test_the_worker_emails_the_overdue_notice(
    make_step, engineer, lead, queues, mailoutbox, django_capture_on_commit_callbacks
):
    step = make_step(assignee=engineer, owner=lead, title="Rotate Bob's AWS key & token")
    with at(timedelta(hours=4)):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
        run_worker()
    assert len(mailoutbox) == 2
    mail = next(m for m in mailoutbox if m.to == ["erik@example.com"])
    ref = step.incident.reference
    assert mail.subject == f"[Leakline] Overdue: {ref} · 1. Rotate Bob's AWS key & token"
    assert "Step: 1. Rotate Bob's AWS key & token (Rotate)" in mail.body  # plain text, unescaped
    assert "This step is overdue: its deadline passed at 2025-03-03 13:00 UTC." in mail.body
    assert "Assignee: Erik Engineer" in mail.body
    assert "Incident owner: Lena Lead" in mail.body
    assert f"https://leakline.example.com/incidents/{step.incident_id}/" in mail.body
    sent = Notification.objects.get(user=engineer)
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 1, T0 + timedelta(hours=4))


def test_the_worker_posts_signed_slack_json_to_the_team_webhook(
    make_step, engineer, hooked_team, webhook_server, queues, django_capture_on_commit_callbacks
):
    step = make_step(assignee=engineer)
    with at(timedelta(hours=4)):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
        run_worker()
    assert len(webhook_server.deliveries) == 1
    delivery = webhook_server.deliveries[0]
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    timestamp = headers["x-leakline-timestamp"]
    assert timestamp == str(int((T0 + timedelta(hours=4)).timestamp()))
    expected = hmac.new(KEY.encode(), timestamp.encode() + b"." + delivery.body, hashlib.sha256)
    assert headers["x-leakline-signature"] == "sha256=" + expected.hexdigest()
    assert headers["content-type"] == "application/json"
    row = Notification.objects.get(channel="webhook")
    assert headers["x-leakline-delivery"] == str(row.pk)
    body = payload(delivery)
    assert body["text"].startswith(f"[Leakline] Overdue: {step.incident.reference}")
    assert body["blocks"][1]["text"]["type"] == "mrkdwn"
    assert "This step is overdue" in body["blocks"][1]["text"]["text"]
    # The webhook URL is a credential: the outbox names the team, not the URL.
    assert row.recipient == f"team:{hooked_team.pk}"
    assert webhook_server.url not in str(list(Notification.objects.values()))
    assert row.status == "sent"


def test_a_tampered_body_fails_the_signature():
    good = sign_webhook(b'{"text":"a"}', "1700000000", KEY)
    assert good != sign_webhook(b'{"text":"b"}', "1700000000", KEY)
    assert good != sign_webhook(b'{"text":"a"}', "1700000001", KEY)


def test_a_failing_webhook_is_retried_with_backoff_then_succeeds(
    hooked_team, webhook_server, queues, django_capture_on_commit_callbacks
):
    webhook_server.statuses = [500, 503]
    with at(timedelta(0)):
        with django_capture_on_commit_callbacks(execute=True):
            row = webhook_row(hooked_team)
        run_worker()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "webhook answered HTTP 500"
    assert row.next_attempt_at == T0 + timedelta(minutes=1)

    with at(timedelta(seconds=59)):  # not yet due: the sweep doesn't re-queue it
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep()["requeued"] == 0
        assert send_notification(row.pk) == "skipped"

    with at(timedelta(minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep()["requeued"] == 1
        run_worker()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == T0 + timedelta(minutes=3)  # 1 min, then 2 min

    with at(timedelta(minutes=3)):
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep()["requeued"] == 1
        run_worker()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
    assert [d.answered for d in webhook_server.deliveries] == [500, 503, 200]
    assert len({d.headers["X-Leakline-Delivery"] for d in webhook_server.deliveries}) == 1


def test_it_gives_up_after_the_last_attempt_and_says_so_on_the_timeline(
    make_step, hooked_team, webhook_server
):
    step = make_step()
    webhook_server.statuses = [500] * MAX_ATTEMPTS
    with at(timedelta(0)):
        row = webhook_row(hooked_team, incident=step.incident, step=step)
    offset = timedelta(0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with at(offset):
            outcome = send_notification(row.pk)
        row.refresh_from_db()
        assert row.attempts == attempt
        offset = row.next_attempt_at - T0
    assert outcome == "failed"
    assert row.status == "failed"
    event = TimelineEvent.objects.get(kind="notification_failed")
    assert event.incident == step.incident
    assert "after 5 attempt(s): webhook answered HTTP 500" in event.message
    assert len(webhook_server.deliveries) == MAX_ATTEMPTS


def test_a_client_error_is_not_retried(hooked_team, webhook_server):
    webhook_server.statuses = [404]
    row = webhook_row(hooked_team)
    assert send_notification(row.pk) == "failed"
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("failed", "webhook answered HTTP 404")


def test_an_unreachable_webhook_is_retried(team):
    team.webhook_url = "http://127.0.0.1:9/nothing-listens-here"
    team.save()
    row = webhook_row(team)
    assert send_notification(row.pk) == "retry"
    row.refresh_from_db()
    assert row.status == "pending"
    assert row.last_error.startswith("webhook unreachable")
    assert "127.0.0.1" not in row.last_error


def test_a_non_http_webhook_url_is_refused(team):
    team.webhook_url = "file:///etc/passwd"
    team.save()
    row = webhook_row(team)
    assert send_notification(row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "webhook URL must be http(s)"


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_row_deliver_it_once(hooked_team, webhook_server):
    row = webhook_row(hooked_team)
    start = threading.Barrier(4)
    outcomes = []

    def send():
        try:
            start.wait(10)
            outcomes.append(send_notification(row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped"]
    assert len(webhook_server.deliveries) == 1


def test_a_row_left_sending_by_a_dead_worker_is_requeued_after_the_lease(
    hooked_team, webhook_server
):
    with at(timedelta(0)):
        row = webhook_row(hooked_team)
        # What a worker killed between the claim and the outcome leaves behind.
        Notification.objects.filter(pk=row.pk).update(status=NotificationStatus.SENDING, attempts=1)
    with at(SENDING_TIMEOUT - timedelta(seconds=1)):
        assert notifications_requeue() == 0
        row.refresh_from_db()
        assert row.status == "sending"
    with at(SENDING_TIMEOUT):
        assert notifications_requeue() == 1
        row.refresh_from_db()
        assert (row.status, row.last_error) == ("pending", "the worker stopped while sending")
        assert send_notification(row.pk) == "sent"
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_stale_row_on_its_last_attempt_fails(hooked_team):
    row = webhook_row(hooked_team)
    Notification.objects.filter(pk=row.pk).update(
        status=NotificationStatus.SENDING,
        attempts=MAX_ATTEMPTS,
        next_attempt_at=T0,
    )
    notifications_requeue(now=T0 + SENDING_TIMEOUT)
    row.refresh_from_db()
    assert row.status == "failed"


def test_an_alert_reaches_assignee_owner_and_webhook_once(
    make_step, engineer, lead, hooked_team, mailoutbox
):
    step = make_step(assignee=engineer, owner=lead)
    message = (
        "Rotation failed at the rotator:\n\n  AccessDenied on iam:CreateAccessKey " + "x" * 400
    )
    created = notify_alert(step=step, message=message)
    assert sorted(n.recipient for n in created) == sorted(
        ["erik@example.com", "lena@example.com", f"team:{hooked_team.pk}"]
    )
    assert notify_alert(step=step, message=message) == []
    body = created[0].body
    assert "Attention needed: Rotation failed at the rotator: AccessDenied on iam:Create" in body
    assert "x" * 301 not in body  # one line, cut short
    assert created[0].kind == "alert"
    assert len(notify_alert(step=step, message="Another failure", event_key="evt-2")) == 3
    with pytest.raises(ValueError):
        notify_alert(step=step, message="   ")


def test_without_a_mail_server_emails_fail_saying_so_on_the_incident_page(
    client, settings, make_step, engineer, lead, hooked_team, webhook_server
):
    # No EMAIL_HOST: the settings pick the dummy backend, which drops every message. "Sent"
    # would tell a lead reading the incident that the team was told.
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    step = make_step(assignee=engineer, owner=lead)
    notify_alert(step=step, message="Rotation failed at the rotator")
    assert send_pending() == {"failed": 2, "sent": 1}
    emails = Notification.objects.filter(channel="email")
    assert {(n.status, n.last_error) for n in emails} == {
        ("failed", "no mail server configured (EMAIL_HOST)")
    }
    assert Notification.objects.get(channel="webhook").status == "sent"  # Slack still told
    assert len(webhook_server.deliveries) == 1
    client.force_login(lead)
    html = client.get(reverse("incident_detail", args=[step.incident_id])).content.decode()
    for address in ("erik@example.com", "lena@example.com"):
        assert (
            f"Could not deliver the alert email notification to {address} after 1 attempt(s): "
            "no mail server configured (EMAIL_HOST)"
        ) in html


def test_the_digest_lists_each_persons_due_and_overdue_steps_once_a_day(
    make_step, engineer, lead, second_lead, mailoutbox
):
    overdue = make_step(assignee=engineer, title="Revoke the token")
    due_today = make_step(
        assignee=engineer, started_at=T0, deadline=timedelta(hours=20), title="Purge history"
    )
    make_step(assignee=engineer, deadline=timedelta(days=3), title="Far away")
    make_step(assignee=None, owner=second_lead, title="Owner's unassigned step")
    done = make_step(assignee=lead, title="Done already")
    done.completed_at = T0
    done.save()
    with at(timedelta(hours=6)):
        assert digest_send() == 2
        assert digest_send() == 0  # once per person per day
    rows = {n.user.username: n for n in Notification.objects.filter(kind="digest")}
    assert set(rows) == {"erik", "sam"}
    erik = rows["erik"]
    assert erik.dedupe_key == f"digest:{engineer.pk}:2025-03-03"
    assert erik.subject == "[Leakline] 2 step(s) due, 1 overdue — 2025-03-03"
    assert "[OVERDUE] " + overdue.incident.reference in erik.body
    assert "Purge history" in erik.body and due_today.incident.reference in erik.body
    assert "Far away" not in erik.body
    assert "Owner's unassigned step" in rows["sam"].body
    with at(timedelta(days=1, hours=6)):
        assert digest_send() == 2  # a new day


def test_the_digest_caps_long_lists(make_step, engineer, monkeypatch):
    monkeypatch.setattr(notifications, "DIGEST_MAX_ITEMS", 2)
    for _ in range(4):
        make_step(assignee=engineer)
    with at(timedelta(hours=5)):
        digest_send()
    body = Notification.objects.get(kind="digest").body
    assert body.count("[OVERDUE]") == 2
    assert "…and 2 more: https://leakline.example.com/my-work/" in body


def test_send_digest_command(make_step, engineer, capsys):
    make_step(assignee=engineer)
    with at(timedelta(hours=5)):
        call_command("send_digest")
    assert capsys.readouterr().out.strip() == '{"digests": 1}'


def test_the_cron_module_registers_the_sweep_and_the_daily_digest():
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=queues_connection())
    scheduler.load_config_from_file("incidents.cron")
    jobs = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert jobs["sweep"].interval == 30
    assert jobs["digest_send"].cron == "0 7 * * *"


def queues_connection():
    import django_rq

    return django_rq.get_connection("default")


def test_tool_text_reaches_slack_escaped_and_email_as_typed(
    make_step, engineer, lead, hooked_team, webhook_server, mailoutbox
):
    """A rotator's failure detail is tool text: in Slack's mrkdwn, ``<!channel>`` would ping the
    whole channel and ``<url|label>`` would hide a phishing link behind its label."""
    step = make_step(assignee=engineer, owner=lead, title="Rotate A&B <prod> key")
    detail = "<!channel> <https://evil.example/login|Re-authenticate here>"
    notify_alert(step=step, message=f"Rotation failed: {detail}", event_key="evt-slack")
    assert send_pending() == {"sent": 3}
    body = payload(webhook_server.deliveries[0])
    texts = [body["text"], body["blocks"][0]["text"]["text"], body["blocks"][1]["text"]["text"]]
    for text in texts:
        assert "<" not in text and ">" not in text
    section = texts[2]
    assert "&lt;!channel&gt; &lt;https://evil.example/login|Re-authenticate here&gt;" in section
    assert "Rotate A&amp;B &lt;prod&gt; key" in section
    assert "Rotate A&amp;B &lt;prod&gt; key" in texts[0]
    # E-mail is plain text: the same words, unescaped, and no HTML part.
    mail = mailoutbox[0]
    assert f"Attention needed: Rotation failed: {detail}" in mail.body
    assert "Rotate A&B <prod> key" in mail.subject
    assert mail.content_subtype == "plain" and not getattr(mail, "alternatives", [])
