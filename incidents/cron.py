"""rq cron configuration (`manage.py rqcron incidents.cron`): the timer sweep every minute in
production. The embedded mode (`manage.py serve`) runs the same sweep in a thread."""

from rq import cron

from incidents.timers import sweep

cron.register(sweep, queue_name="default", interval=60)
