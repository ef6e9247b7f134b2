"""Cut a large report in two so that two processes can parse it (services.staging).

A report can be cut where its format allows it: a JSON array between two top-level elements
(gitleaks). Each half is a complete document of the same format — the first half ends with an
added ``]``, the second begins with an added ``[`` — so the format's own ``parse`` reads it, and
its errors say where they are within that half; ``relocate`` turns that into a place in the
whole report. When in doubt (not an array, malformed, nested too deeply, no element boundary
near the middle) there is no cut and the report is parsed whole, which reports any error.
"""

from __future__ import annotations

import io
import os
import re

from .base import DepthGuard, ImportFormatError

JSON_ARRAY = "json-array"
# Past the middle, how far to look for the end of an element (findings are a few KB at most).
_WINDOW = 4 * 1024 * 1024
_CHUNK = 1024 * 1024
_SPACE = b" \t\r\n"


class ByteRange(io.RawIOBase):
    """Bytes ``[start, end)`` of an open file, between ``prefix`` and ``suffix``, read with
    pread: two processes read the same descriptor without moving each other's offset."""

    def __init__(self, fd: int, start: int, end: int, prefix: bytes = b"", suffix: bytes = b""):
        self.fd = fd
        self.pos = start
        self.end = end
        self.prefix = prefix
        self.suffix = suffix

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer)
        if self.prefix:
            data, self.prefix = self.prefix[:want], self.prefix[want:]
        elif self.pos < self.end:
            data = os.pread(self.fd, min(want, self.end - self.pos), self.pos)
            if not data:  # the file is shorter than it was: let the parser see the end
                self.pos = self.end
            self.pos += len(data)
        else:
            data, self.suffix = self.suffix[:want], self.suffix[want:]
        n = len(data)
        buffer[:n] = data
        return n


def json_array_cut(fd: int, size: int, target: int) -> int | None:
    """The offset of a comma between two top-level elements of the JSON array in the file, at
    or after ``target``; None when there is none (or the file is not a well-formed array up to
    there)."""
    from .gitleaks import MAX_DEPTH  # the limit of the streamed parse (gitleaks' arrays)

    head = os.pread(fd, 4096, 0).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"[") or not 0 < target < size:
        return None
    scanner = DepthGuard(io.BytesIO(), max_depth=MAX_DEPTH)
    try:
        while scanner.pos < target:
            data = os.pread(fd, min(_CHUNK, target - scanner.pos), scanner.pos)
            if not data:
                return None
            scanner.scan(data)
    except ImportFormatError:
        return None
    if scanner.depth < 1:
        return None
    # The scanner knows the depth and whether ``target`` is inside a string (and after a
    # backslash); walk on from there to the next comma at depth 1.
    window = os.pread(fd, min(_WINDOW, size - target), target)
    for i, byte, depth in scanner.walk(window):
        if depth < 1:
            return None  # the array ended
        if byte == 0x2C and depth == 1:  # ,
            # A comma before the closing bracket is not between two elements: cut there, each
            # half would read as valid JSON, where the whole report is not (one process
            # reports the trailing comma).
            # Nor is one right after the opening bracket or another comma.
            after = window[i + 1 :].lstrip(_SPACE)
            before = window[:i].rstrip(_SPACE)
            if not before:
                start = max(0, target - 4096)
                before = os.pread(fd, target - start, start).rstrip(_SPACE)
            if not after or after[0] == 0x5D or not before or before[-1] in b"[,":  # ]
                return None
            return target + i
    return None


_INDEX = re.compile(r"^\$\[(\d+)\]")
_BYTE = re.compile(r"\bbyte (\d+)")
_AFTER = re.compile(r"\(after \$\[(\d+)\]\)")


def relocate(location: str, items_before: int, cut: int) -> str:
    """A location in the second half (``[`` + the bytes after ``cut``) as a location in the
    whole report: element indexes shift by the first half's elements, byte offsets by ``cut``."""
    location = _INDEX.sub(lambda m: f"$[{int(m[1]) + items_before}]", location)
    location = _AFTER.sub(lambda m: f"(after $[{int(m[1]) + items_before}])", location)
    return _BYTE.sub(lambda m: f"byte {int(m[1]) + cut}", location)
