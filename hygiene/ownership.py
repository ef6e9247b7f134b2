"""Ownership rules: glob patterns on where a finding was seen → the team that owns it.

Pure functions, no database: the import pipeline asks ``ownership_team_for`` per observation,
and the triage services turn the same rules into one SQL ``CASE`` (``glob_to_regex``) so that
re-applying them to a million findings is one UPDATE, with the same semantics as ``fnmatchcase``.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol


class RuleLike(Protocol):
    team_id: int
    repo_pattern: str
    path_pattern: str
    resource_pattern: str
    enabled: bool


@dataclass(frozen=True)
class Rule:
    """A detached rule (tests, previews of unsaved rules)."""

    team_id: int
    repo_pattern: str = ""
    path_pattern: str = ""
    resource_pattern: str = ""
    enabled: bool = True
    position: int = 100


FIELDS = (("repo_pattern", "repo"), ("path_pattern", "path"), ("resource_pattern", "resource"))


def rule_matches(rule: RuleLike, *, repo: str = "", path: str = "", resource: str = "") -> bool:
    """Every non-empty pattern must match; a rule without any pattern matches nothing."""
    values = {"repo": repo or "", "path": path or "", "resource": resource or ""}
    patterns = [(getattr(rule, attr), values[key]) for attr, key in FIELDS if getattr(rule, attr)]
    return bool(patterns) and all(fnmatchcase(value, pattern) for pattern, value in patterns)


def ownership_team_for(
    repo: str | None, path: str | None, resource: str | None, rules: Iterable[RuleLike]
) -> int | None:
    """The team id of the first enabled rule (in the given order) that matches, else None."""
    for rule in rules:
        if getattr(rule, "enabled", True) and rule_matches(
            rule, repo=repo or "", path=path or "", resource=resource or ""
        ):
            return rule.team_id
    return None


def _lit(c: str) -> str:
    return c if c.isalnum() or c == "_" else "\\" + c


def _bracket(pat: str, i: int, j: int) -> str:
    """The set ``pat[i:j]`` (between "[" and "]"), split into chunks on "-" exactly as
    ``fnmatch.translate`` does (empty ranges dropped), written out portably."""
    negate = pat[i] == "!"
    chunks = []
    k = i + 2 if negate else i + 1
    while True:
        k = pat.find("-", k, j)
        if k < 0:
            break
        chunks.append(pat[i:k])
        i = k + 1
        k = k + 3
    chunk = pat[i:j]
    if chunk:
        chunks.append(chunk)
    else:
        chunks[-1] += "-"
    for k in range(len(chunks) - 1, 0, -1):
        if chunks[k - 1][-1] > chunks[k][0]:
            chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
            del chunks[k]
    stuff = "-".join(chunks)  # "-" between chunks means a range
    if negate:
        chunks[0] = chunks[0][1:]
        stuff = stuff[1:]
    if not stuff:
        return "." if negate else "[^\\s\\S]"  # "[!]" matches any char; "[]" nothing
    items, n = [], len(chunks)
    for idx, ch in enumerate(chunks):
        start = 1 if idx > 0 else 0
        stop = len(ch) - 1 if idx < n - 1 else len(ch)
        if idx > 0:
            items.append(f"{_lit(chunks[idx - 1][-1])}-{_lit(ch[0])}")
        items.extend(_lit(c) for c in ch[start:stop])
    return "[" + ("^" if negate else "") + "".join(items) + "]"


def glob_to_regex(pattern: str) -> str:
    """An anchored regular expression meaning what ``fnmatchcase(value, pattern)`` means, in the
    subset both Python's ``re`` and PostgreSQL's ``~`` understand (``.*``, ``.``, brackets and
    backslash-escaped punctuation)."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if out[-1] != ".*":
                out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal "["
                out.append("\\[")
                continue
            out.append(_bracket(pattern, i, j))
            i = j + 1
        else:
            out.append(_lit(c))
    out.append("$")
    return "".join(out)


def enabled_in_order(rules: Sequence[RuleLike]) -> list[RuleLike]:
    return [
        r for r in rules if getattr(r, "enabled", True) and any(getattr(r, a) for a, _ in FIELDS)
    ]
