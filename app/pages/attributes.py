"""Props that hold data (a file's path, a branch, a person's or a rule's name, an id) are set as values, never
formatted into a `.props()` string: NiceGUI parses that string with a regex, where a `"` in the data, or a backslash
before the closing quote, ends the value and starts props of the data's own, and a prop named `:x` is run as
JavaScript. tests/unit/test_no_formatted_props.py keeps every `.props()` call a literal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from nicegui import ui

E = TypeVar('E', bound=ui.element)

# a `:`-prefixed prop is a JavaScript expression; these write markup: none may be set from data
_CODE_PROPS = frozenset({'innerHTML', 'outerHTML', 'srcdoc', 'v-html'})


def attrs(element: E, values: Mapping[str, str]) -> E:
    """Set each prop of `values` on `element` as it is (the client gets the change when the element is already
    shown); returns the element, so it chains like `.props()`."""
    for key in values:
        if key.startswith((':', 'v-', 'on')) or key in _CODE_PROPS:
            raise ValueError(f'{key!r} runs or writes code: not a prop to set from data')
    changed = {key: value for key, value in values.items() if element.props.get(key) != value}
    if changed:
        element.props.update(changed)
    return element
