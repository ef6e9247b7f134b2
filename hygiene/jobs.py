"""Background work. With REDIS_URL set, jobs go to rq queues (enqueued after the transaction
commits); without it they run in-process after commit (the embedded default). Jobs take ids,
never payloads or objects."""

import logging
import signal
import threading
from importlib import import_module

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def enqueue(func_path: str, *args, queue: str = "default"):
    """Run ``func_path(*args)`` in the background once the current transaction commits."""
    if settings.REDIS_URL:
        import django_rq

        return django_rq.get_queue(queue).enqueue(func_path, *args)
    transaction.on_commit(lambda: _run_inline(func_path, args))
    return None


def _run_inline(func_path: str, args) -> None:
    try:
        _resolve(func_path)(*args)
    except Exception:
        log.exception("in-process job %s failed", func_path)


def sweep_loop(*, stop: threading.Event | None = None, every: int = 60) -> None:
    """Run the timer sweep until stopped; one bad run doesn't stop the loop."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        try:
            _resolve("incidents.timers.sweep")()
        except Exception:
            log.exception("timer sweep failed; retrying in %ss", every)
        finally:
            close_old_connections()
        stop.wait(every)
