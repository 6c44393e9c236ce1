"""An edit names the version it was made on, and a form says in words when someone else changed the thing since
(409 edit_conflict): the pieces the webhook dialog, the project Settings page and the schedule dialog share."""

from __future__ import annotations

import pytest

from app.state.edit_conflict import after_own_save, conflict_text, edit_body, is_edit_conflict


@pytest.mark.parametrize(
    ('read', 'changes', 'key', 'body'),
    [
        ({'version': 3, 'name': 'a'}, {'name': 'b'}, 'version', {'name': 'b', 'version': 3}),
        ({'edit_version': 7, 'version': 40}, {'cron': '@daily'}, 'edit_version', {'cron': '@daily', 'edit_version': 7}),
        ({'name': 'a'}, {'name': 'b'}, 'version', {'name': 'b'}),  # a server before versions: the edit as it was
        ({'name': 'a'}, {'name': 'b'}, 'edit_version', {'name': 'b'}),
    ],
)
def test_an_edit_names_the_version_it_was_made_on(read: dict, changes: dict, key: str, body: dict) -> None:
    assert edit_body(read, changes, key) == body


@pytest.mark.parametrize(
    ('status', 'error', 'conflict'),
    [
        (409, 'edit_conflict', True),
        (409, 'conflict', False),  # a name already taken: said at its box
        (409, 'too_many_rules', False),
        (422, 'edit_conflict', False),
        (404, 'not_found', False),
    ],
)
def test_only_an_edit_conflict_offers_reload(status: int, error: str, conflict: bool) -> None:
    assert is_edit_conflict(status, error) is conflict


@pytest.mark.parametrize('what', ['webhook', 'project', 'schedule'])
def test_the_conflict_says_who_changed_what_that_nothing_was_saved_and_what_reload_does(what: str) -> None:
    assert conflict_text('nightly', what) == (
        f'Could not save “nightly”: someone else changed this {what} since you opened it (another operator, or '
        'another tab). Nothing was saved. Reload shows it as it is now; then make your change again.'
    )


READ = {'edit_version': 4, 'name': 'Web', 'network': 'default'}


@pytest.mark.parametrize(
    ('answer', 'kept'),
    [
        # the page's own panel moved it by one: the form's next Save names that version, and is not refused
        ({'edit_version': 5, 'name': 'Web', 'network': 'none'}, 'answer'),
        ({'edit_version': 4, 'name': 'Web', 'network': 'default'}, 'answer'),  # a change to nothing
        # someone else changed it too: the form keeps what it read, and its Save is refused, as it must be
        ({'edit_version': 6, 'name': 'Theirs', 'network': 'none'}, 'read'),
        ({'edit_version': 3, 'name': 'Web', 'network': 'none'}, 'read'),
        ({'name': 'Web', 'network': 'none'}, 'read'),  # a server before versions
    ],
)
def test_a_change_saved_by_another_control_of_the_page_moves_the_forms_version_only_when_it_alone_did(
    answer: dict, kept: str
) -> None:
    assert after_own_save(READ, answer, 'edit_version') == (answer if kept == 'answer' else READ)
