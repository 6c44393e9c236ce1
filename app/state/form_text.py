"""Pure: values a text box cannot hold as they are, as a person types them and back. A command is an argv list
(never a shell line the server would interpret): typed as one shell-like line (split with shlex, as a shell would
split it, without running a shell) or one argument per line. Lists of names are comma-separated; a duration is
`90s`, `10m`, `2h`, `1d`, `1h30m` or a number of seconds. Each parser raises ValueError with a sentence."""

from __future__ import annotations

import re
import shlex
from typing import Literal

CommandMode = Literal['line', 'lines']
COMMAND_MODES: dict[str, str] = {'line': 'One shell-like line', 'lines': 'One argument per line'}
DURATION_HINT = 'a duration like 90s, 10m, 2h, 1d or 1h30m (a plain number is seconds)'
_UNITS = (('d', 86400), ('h', 3600), ('m', 60), ('s', 1))
_DURATION = re.compile(r'(\d{1,7})([smhd])')


def parse_command(text: str, mode: CommandMode) -> list[str]:
    """The argv the text says. `line`: shell-like quoting ('a b' "c d" e\\ f); `lines`: each non-empty line
    is one argument, exactly as typed (spaces inside it kept)."""
    if mode == 'lines':
        return [line for line in text.splitlines() if line.strip()]
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as exc:  # shlex says 'No closing quotation' or 'No escaped character'
        raise ValueError(f'{exc}: close the quote or escape it with a backslash') from None


def command_text(argv: list[str], mode: CommandMode) -> str:
    """The text that parses back to argv in that mode (an argument with a line break needs the `line` mode)."""
    if mode == 'lines':
        return '\n'.join(argv)
    return shlex.join(argv)


def fits_lines(argv: list[str]) -> bool:
    """Can every argument be one line of its own (no line breaks inside, no blank argument)?"""
    return all(arg.strip() and '\n' not in arg and '\r' not in arg for arg in argv)


def switch_command_mode(text: str, old: CommandMode, new: CommandMode) -> str:
    """The same argv written the other way; text that does not parse (or cannot be written so) stays as is."""
    if old == new:
        return text
    try:
        argv = parse_command(text, old)
    except ValueError:
        return text
    if new == 'lines' and not fits_lines(argv):
        return text
    return command_text(argv, new)


def split_names(text: str) -> list[str]:
    """'shallow, deep' -> ['shallow', 'deep']: commas or line breaks separate; blanks around are dropped."""
    return [part.strip() for part in re.split(r'[,\n]', text) if part.strip()]


def names_text(names: list[str] | None) -> str:
    return ', '.join(names or [])


def parse_duration(text: str) -> int | None:
    """Seconds, or None for an empty box (the server's default)."""
    value = text.strip().lower().replace(' ', '')
    if not value:
        return None
    if value.isdigit():
        seconds = int(value)
    else:
        parts = _DURATION.findall(value)
        if not parts or ''.join(n + u for n, u in parts) != value:
            raise ValueError(f'Write {DURATION_HINT}.')
        seconds = sum(int(n) * dict(_UNITS)[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError('Must be longer than 0 seconds.')
    return seconds


def duration_text(seconds: int | None) -> str:
    """7200 -> '2h', 5400 -> '1h30m', 45 -> '45s'; parse_duration reads it back to the same seconds."""
    if not seconds:
        return ''
    parts, rest = [], int(seconds)
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(f'{rest // size}{unit}')
            rest %= size
    return ''.join(parts)


def whole_number(value: float | int | str | None) -> int | None:
    """A number box's value as an int (None when empty); a fraction or text raises."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError('Must be a whole number.') from None
    if not number.is_integer():
        raise ValueError('Must be a whole number.')
    return int(number)
