"""rq cron configuration (`manage.py rqcron incidents.cron`): the timer sweep and the daily digest
in production. The embedded mode (`manage.py serve`) runs the same sweep in a thread;
`manage.py send_digest` sends the digest by hand."""

from rq import cron

from incidents.notifications import digest_send
from incidents.timers import sweep

# Every 30 s: an escalation fires at most one interval (plus queue pick-up) after its due time,
# and the promise is "within 60 s". A sweep with nothing to do costs a few milliseconds.
cron.register(sweep, queue_name="default", interval=30)
# 07:00 in the scheduler host's local time (UTC in the containers). One digest per person per
# day whatever happens: its dedupe key is the person and the date.
cron.register(digest_send, queue_name="default", cron="0 7 * * *")
