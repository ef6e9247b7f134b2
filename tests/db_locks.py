"""Waiting, in tests of concurrent transactions, for another session to block on ours."""


def someone_waits_for(cursor) -> bool:
    """Whether another session waits for a lock this cursor's transaction holds."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted "
        "AND pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
    )
    return cursor.fetchone()[0]
