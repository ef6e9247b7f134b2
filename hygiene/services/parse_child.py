"""The second process for a large report (``python -m hygiene.services.parse_child``).

services.staging starts it with the spooled report's descriptor and writes a pickled job to its
stdin: the format, the byte range of the report's second half, a descriptor for its rows (an
anonymous file), the run, the time of the import and the fingerprint key. It parses that half
with the format's importer and builds staged rows exactly as the main process does
(services.staged_rows), writing them as it goes — ("rows", keys, COPY text, references)…
("end", verified repeats) — and answers on stdout once the whole half is parsed:

    ("done", items)
    ("error", message, location)                bad input (location within the half)
    ("failed", exception type, code location)   a bug (never the exception's message)

No database and no Django project: ``settings.configure()`` with the fingerprint key only.
Its stderr goes nowhere (a traceback could quote the report).
"""

import ctypes
import gc
import io
import os
import pickle
import signal
import sys
import traceback

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Linux: end with the importing process (a worker killed at its timeout) instead of
    parsing on for nobody."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before prctl
        os._exit(1)


def main() -> int:
    job = pickle.load(sys.stdin.buffer)  # noqa: S301 - written by services.staging
    _die_with_parent(job["parent"])
    from django.conf import settings

    settings.configure(FINGERPRINT_KEY=job["fingerprint_key"])
    from hygiene.importers import ImportFormatError, Observation, get_parser, split
    from hygiene.services.staged_rows import PARSE_GC_THRESHOLD, VALIDITY, CopyText, StagedRows

    gc.set_threshold(PARSE_GC_THRESHOLD, *gc.get_threshold()[1:])  # a parse, and no more
    out = sys.stdout.buffer
    try:
        rows = StagedRows(
            job["run_id"], job["source_id"], job["format"], job["now"], job["source_repo"]
        )
        stream = split.ByteRange(job["fd"], job["start"], job["end"], prefix=b"[")
        formatter = CopyText()
        batch = job["batch"]
        written = os.fdopen(job["rows_fd"], "wb", buffering=1024 * 1024)

        def write_rows() -> None:
            keys = [(row[1], row[-1], row[VALIDITY] == "valid") for row in rows.findings]
            pickle.dump(("rows", keys, formatter.rows(rows.findings), rows.references), written)
            rows.findings, rows.references = [], []

        received = 0
        for item in get_parser(job["format"])(io.BufferedReader(stream, 1024 * 1024)):
            received += 1
            if not isinstance(item, Observation) or item.category == "posture":
                # Nor posture results: a FAIL overriding a PASS of the other half (StagedRows)
                # is not carried across the merge.
                raise TypeError("only secret findings are parsed in two processes")
            rows.add_observation(item)
            if len(rows.findings) >= batch:
                write_rows()
        write_rows()
        pickle.dump(("end", sorted(rows.verified_repeats)), written)
        written.flush()
    except ImportFormatError as exc:
        pickle.dump(("error", exc.message, exc.location), out)
        return 0
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        pickle.dump(("failed", type(exc).__name__, f"{frame.filename}:{frame.lineno}"), out)
        return 1
    pickle.dump(("done", received), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
