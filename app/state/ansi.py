"""Output lines with ANSI colours, as safe HTML (pure). Rich's ANSI decoder reads the escape sequences
(SGR colours and styles; other control sequences are dropped); every character of the text is escaped,
and the only markup emitted is our own <span> with a class or an inline colour, so the result needs no
sanitising. A line without escape sequences stays plain text (None). A line a program rewrote with carriage
returns (a progress meter) shows what a terminal ends up showing: the part after its last one."""

from __future__ import annotations

from html import escape

from rich.style import Style
from rich.text import Text

ESC = '\x1b'


def _css(style: Style) -> tuple[list[str], list[str]]:
    classes, rules = [], []
    color = style.color
    if color is not None and not color.is_default:
        if color.number is not None and color.number < 16:  # the theme's 16: light and dark differ (CSS)
            classes.append(f'rb-ansi-{color.number}')
        else:
            r, g, b = color.get_truecolor()
            rules.append(f'color: #{r:02x}{g:02x}{b:02x}')
    background = style.bgcolor
    if background is not None and not background.is_default:
        r, g, b = background.get_truecolor()
        rules.append(f'background-color: #{r:02x}{g:02x}{b:02x}')
    if style.bold:
        rules.append('font-weight: 700')
    if style.dim:
        rules.append('opacity: 0.7')
    if style.italic:
        rules.append('font-style: italic')
    if style.underline:
        rules.append('text-decoration: underline')
    return classes, rules


def terminal_shown(line: str) -> str:
    """Pure: what a terminal shows of the line: the part after its last carriage return."""
    return line.rsplit('\r', 1)[-1]


def ansi_html(line: str) -> str | None:
    """The line as HTML spans, or None when it holds no escape sequence (show it as plain text)."""
    if ESC not in line:
        return None
    text = Text.from_ansi(line)
    plain = text.plain
    styles: list[Style | None] = [None] * len(plain)
    for span in text.spans:
        style = span.style if isinstance(span.style, Style) else Style.parse(str(span.style))
        for index in range(span.start, min(span.end, len(plain))):
            earlier = styles[index]
            styles[index] = style if earlier is None else earlier + style
    parts, start = [], 0
    for index in range(1, len(plain) + 1):
        if index == len(plain) or styles[index] != styles[start]:
            chunk = escape(plain[start:index])
            current = styles[start]
            classes, rules = _css(current) if current is not None else ([], [])
            if classes or rules:
                attributes = (f' class="{" ".join(classes)}"' if classes else '') + (
                    f' style="{"; ".join(rules)}"' if rules else ''
                )
                parts.append(f'<span{attributes}>{chunk}</span>')
            else:
                parts.append(chunk)
            start = index
    return ''.join(parts)


def plain_text(line: str) -> str:
    """The line as shown, without its escape sequences (what search and copy work on)."""
    line = terminal_shown(line)
    return Text.from_ansi(line).plain if ESC in line else line
