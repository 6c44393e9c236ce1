"""Pure: the workflow commands a run's command may print (docs/pipelines.md, "What a command may print"), parsed
the way GitHub Actions parses them, and what each becomes in the run's timeline.

A command is a line of its own, starting at the first column: `::NAME PROPERTIES::DATA`. PROPERTIES are
comma-separated `key=value` pairs (a pair without `=` or with an empty key is ignored, as GitHub does); values
unescape `%25 %0D %0A %3A %2C`, the data `%25 %0D %0A`. A line that is not a well-formed known command (no
closing `::`, an unknown name, an annotation without a message, a `line=` that is not a number) is an
ordinary output line: a pipeline never fails for what it prints.

Timeline events (their `type`, `text`):
- `::stage:: NAME`  -> `stage`, NAME (the stage strip; the log folds by stage)
- `::group::TITLE`  -> `group`, TITLE (a folded group in the log, up to `::endgroup::`, the next group or stage)
- `::endgroup::`    -> `endgroup`, '' (no text of its own: the log draws no row for it)
- `::error|warning|notice PROPS::MESSAGE` -> `annotation`, the line as printed (after masking): it stays an
  output line of the log, drawn styled, and `annotation_of` reads its level, message, file and line back
- `::add-mask::VALUE` is app/services/execution/masking.py's (applied before this): the line stays output, masked.
- `::usage input_tokens=N,output_tokens=N,cost_usd=X,model=NAME::` -> an `output` line as printed; `usage_of` reads
  what an agent spent from it (any of the fields, any number of lines: the run sums them; docs/afk.md)

Shared by the server (output ingest, the run's `annotations`, webhook payloads) and the UI (the log's rows),
so it lives outside both layers, like app/core/origins.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LEVELS = ('error', 'warning', 'notice')
MAX_ANNOTATIONS = 50  # listed per run (GitHub's per-job limit); more stay styled lines of the log
MAX_TITLE_CHARS = 200  # a group's title as stored
_NUMBERS = ('line', 'endLine', 'col', 'endColumn')


@dataclass(frozen=True)
class Command:
    name: str  # stage | group | endgroup | error | warning | notice
    properties: dict[str, str]
    data: str


@dataclass(frozen=True)
class Annotation:
    level: str  # error | warning | notice
    message: str
    title: str | None = None
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    col: int | None = None
    end_column: int | None = None

    @property
    def place(self) -> str:
        """`app.py:3`, `app.py`, `` (where it points, as people write it)."""
        if not self.file:
            return ''
        return f'{self.file}:{self.line}' if self.line is not None else self.file

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            'level': self.level,
            'message': self.message,
            'title': self.title,
            'file': self.file,
            'line': self.line,
            'end_line': self.end_line,
            'col': self.col,
            'end_column': self.end_column,
        }


def escape_data(text: str) -> str:
    return text.replace('%', '%25').replace('\r', '%0D').replace('\n', '%0A')


def escape_property(text: str) -> str:
    return escape_data(text).replace(':', '%3A').replace(',', '%2C')


def unescape_data(text: str) -> str:
    return text.replace('%0D', '\r').replace('%0A', '\n').replace('%25', '%')


def unescape_property(text: str) -> str:
    return text.replace('%0D', '\r').replace('%0A', '\n').replace('%3A', ':').replace('%2C', ',').replace('%25', '%')


def parse_properties(text: str) -> dict[str, str]:
    properties: dict[str, str] = {}
    for pair in text.split(','):
        key, equals, value = pair.partition('=')
        key = key.strip()
        if equals and key:
            properties[key] = unescape_property(value)
    return properties


def parse(line: str) -> Command | None:
    """The command on this line, or None (an ordinary line)."""
    if not line.startswith('::'):
        return None
    end = line.find('::', 2)
    if end < 0:
        return None
    head, data = line[2:end], line[end + 2 :]
    name, _, props = head.partition(' ')
    if name == 'stage':  # Runboard's own; `::stage:: NAME` (the space after `::` is customary)
        stage = data.strip()
        return Command('stage', {}, stage) if stage and not props else None
    if name == 'group':
        return Command('group', {}, unescape_data(data).strip()[:MAX_TITLE_CHARS]) if not props else None
    if name == 'endgroup':
        return Command('endgroup', {}, '') if not props else None
    if name in LEVELS:
        message = unescape_data(data)
        properties = parse_properties(props)
        if not message.strip() or any(not _is_number(properties[key]) for key in _NUMBERS if key in properties):
            return None
        return Command(name, properties, message)
    return None


USAGE_FIELDS = ('input_tokens', 'output_tokens', 'cost_usd', 'model')
MAX_COST_PER_LINE = 1_000_000.0  # a line claiming more is a mistake, not a spend: it stays text


@dataclass(frozen=True)
class Usage:
    """What an agent reported spending on one `::usage::` line (or the sum of several)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            round(self.cost_usd + other.cost_usd, 6),
            other.model or self.model,
        )


def usage_of(line: str) -> Usage | None:
    """The usage a `::usage k=v,...::` line reports, or None (then it is an ordinary line and counts nothing).

    Well formed: at least one known field; tokens are whole numbers >= 0; cost_usd a finite number >= 0;
    no unknown field, no data after the closing `::` and no field twice (a typo must not count half a line)."""
    if not line.startswith('::usage ') or not line.endswith('::') or len(line) < 11:
        return None
    body = line[len('::usage ') : -2]
    if '::' in body:
        return None
    values: dict[str, str] = {}
    for pair in body.split(','):
        key, equals, value = pair.partition('=')
        key, value = key.strip(), value.strip()
        if not equals or key not in USAGE_FIELDS or key in values or not value:
            return None
        values[key] = unescape_property(value)
    try:
        tokens_in = int(values.get('input_tokens', '0'))
        tokens_out = int(values.get('output_tokens', '0'))
        cost = float(values.get('cost_usd', '0'))
    except ValueError:
        return None
    if tokens_in < 0 or tokens_out < 0 or not (0.0 <= cost <= MAX_COST_PER_LINE):  # also NaN
        return None
    model = values.get('model', '').strip()[:100] or None
    return Usage(tokens_in, tokens_out, cost, model)


def _is_number(text: str) -> bool:
    return text.strip().isdigit()


def event_of(line: str) -> tuple[str, str]:
    """What the ingest stores for one (masked) output line: (event type, text)."""
    command = parse(line)
    if command is None:
        return 'output', line
    if command.name in LEVELS:
        return 'annotation', line
    return command.name, command.data


def remasked(line: str, mask: Callable[[str], str]) -> str:
    """Pure: an annotation line whose unescaped message or properties hold what `mask` hides (a secret with a `%` in it,
    printed `%25`-escaped, passes the masking of the line as printed), rebuilt from the masked values; else the line
    as it is. A group's or stage's text is masked where it is read (`event_of`'s caller)."""
    command = parse(line)
    if command is None or command.name not in LEVELS:
        return line
    message = mask(command.data)
    properties = {key: mask(value) for key, value in command.properties.items()}
    if message == command.data and properties == command.properties:
        return line
    props = ','.join(f'{key}={escape_property(value)}' for key, value in properties.items())
    return f'::{command.name}{" " + props if props else ""}::{escape_data(message)}'


def runboard_annotation(level: str, message: str, **properties: str) -> tuple[str, str]:
    """An annotation Runboard writes in a run's log (an artifact it refused): listed with the run's own, but not a
    line the run printed (not counted, not in the raw log or a notification's last lines)."""
    props = ','.join(f'{key}={escape_property(value)}' for key, value in properties.items() if value)
    return 'runboard_annotation', f'::{level}{" " + props if props else ""}::{escape_data(message)}'


def annotation_of(text: str) -> Annotation | None:
    """An `annotation` event's text read back (None if it is not one: then it reads as an output line)."""
    command = parse(text)
    if command is None or command.name not in LEVELS:
        return None
    props = command.properties

    def number(key: str) -> int | None:
        return int(props[key]) if key in props else None

    return Annotation(
        level=command.name,
        message=command.data,
        title=props.get('title') or None,
        file=props.get('file') or None,
        line=number('line'),
        end_line=number('endLine'),
        col=number('col'),
        end_column=number('endColumn'),
    )
