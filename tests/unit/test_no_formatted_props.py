"""No data is formatted into a NiceGUI `.props()` string (the stored XSS of the artifacts tab, the AFK review, the
batch page, ...): NiceGUI parses that string with a regex, so a `"` in the data, or a backslash before the closing
quote, ends the value and the rest becomes props of its own, and a prop named `:x` is run as JavaScript. Every
`.props()` call in app/ takes literals only; data goes in as values (app/pages/attributes.py `attrs`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from nicegui import ui

from app.pages.attributes import attrs

APP = Path(__file__).resolve().parents[2] / 'app'


def formatted_props(source: str, filename: str = '<source>') -> list[tuple[int, str]]:
    """(line, call) of every `.props(...)` call whose arguments are not all string literals: an f-string, a
    concatenation, a name, a call, `%` or `.format`, a conditional between literals."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'props'):
            continue
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in arguments):
            found.append((node.lineno, ast.unparse(node)[-100:]))
    return found


def test_the_rule_finds_every_way_of_building_a_props_string() -> None:
    source = """
e.props(f'data-path="{path}"')
e.props('aria-label="' + name + '"')
e.props(marks)
e.props(build(name))
e.props('data-x=%s' % x)
e.props('data-x={}'.format(x))
e.props('flat' if dense else 'outline')
e.props(add=f'x={y}')
ui.button().classes('rb-tap').props(remove=names)
e.props('flat dense aria-label="Close"')
e.props(remove='error error-message')
e.props()
e.props['data-path'] = path
"""
    assert [line for line, _ in formatted_props(source)] == [2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_no_module_of_app_formats_a_props_string() -> None:
    found = [
        f'{path.relative_to(APP.parent)}:{line}: {call}'
        for path in sorted(APP.rglob('*.py'))
        for line, call in formatted_props(path.read_text(encoding='utf-8'), str(path))
    ]
    assert not found, 'set data as prop values (app/pages/attributes.py attrs), not in a props string:\n' + '\n'.join(
        found
    )


def test_attrs_sets_values_as_they_are() -> None:
    element = ui.element('div').props('role=listitem')
    hostile = 'x" :y="window.__rbxss=1" z\\'
    assert attrs(element, {'data-path': hostile, 'aria-label': hostile}) is element
    assert element.props == {'role': 'listitem', 'data-path': hostile, 'aria-label': hostile}


@pytest.mark.parametrize('key', [':y', 'innerHTML', 'v-html', 'onclick'])
def test_attrs_refuses_props_that_run_or_write_code(key: str) -> None:
    with pytest.raises(ValueError, match='runs or writes code'):
        attrs(ui.element('div'), {key: 'alert(1)'})
