"""Branch and path globs as GitHub's filter patterns read them (push rules' `branches` and `paths`, a project's
protected branches): `*` any characters but `/`, `**` any characters, `?` one character but `/`, `[...]` a class; a
pattern starting `!` excludes, and the last pattern that matches decides."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as GitHub's filter patterns read: `*` any characters but `/`, `**` any characters, `?` one
    character but `/`, `[...]` a class; everything else literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith('**', i):
            i += 2
            if pattern.startswith('/', i):  # `**/` matches no directory too
                out.append('(?:.*/)?')
                i += 1
            else:
                out.append('.*')
            continue
        if ch == '*':
            out.append('[^/]*')
        elif ch == '?':
            out.append('[^/]')
        elif ch == '[':
            end = pattern.find(']', i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                out.append('[' + ('^' + re.escape(body[1:]) if body.startswith('!') else re.escape(body)) + ']')
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile(''.join(out))


def glob_match(pattern: str, value: str) -> bool:
    return glob_regex(pattern).fullmatch(value) is not None


def filter_match(patterns: Sequence[str], value: str) -> bool:
    """Patterns in order, `!` negating; the last pattern that matches decides (none matches: no)."""
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith('!')
        if glob_match(pattern[1:] if negated else pattern, value):
            verdict = not negated
    return verdict


def protected_branch(branch: str, *, base_branch: str, patterns: list[str] | None) -> bool:
    """Pure: whether `branch` is one of a project's protected branches (its base branch when it names none)."""
    return filter_match(patterns, branch) if patterns is not None else branch == base_branch
