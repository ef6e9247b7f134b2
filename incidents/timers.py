"""Deadline sweep. Replaced by the full escalation sweep (see issue: playbooks and timers)."""


def sweep(now=None) -> dict:
    return {"due_soon": 0, "overdue": 0, "nagged": 0}
