"""Offboarding in the People page, in real Chromium: an operator changes a person's role, and removes a person from the
team after a confirmation that says what will happen (their tokens revoked, their schedule paused, the push rules
that run as them); the person is gone from the list, their token is refused and their schedule shows paused. The
server's administrator, the team's last operator, is offered neither, and the page says why."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import SignInServer, sign_in_page
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

SCHEDULE = {
    'name': 'nightly',
    'cron': '0 3 * * *',
    'branch': 'main',
    'depth_level': 'shallow',
    'target_framework': 'python',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInServer]:
    base = tmp_path_factory.mktemp('offboarding')
    repo = make_repo(base / 'repo', {'main': {'run.sh': 'echo done\n'}})
    env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_UI_SIGN_IN': 'true'}
    with app_process(base / 'data', env=env) as app:
        token = json.loads((base / 'data' / 'credentials.json').read_text())['token']
        yield SignInServer(app['url'], token, repo)


def test_an_operator_removes_a_person_after_reading_what_it_does(page: Page, server: SignInServer) -> None:
    dee_id, dee = server.add_person('Dee', 'operator')
    with server.api(dee) as as_dee:  # Dee's project, schedule and push rules: they all run as Dee
        create_project(as_dee, server.repo, project_id='dee-app', name='Dee app')
        schedule = as_dee.post('/api/projects/dee-app/schedules', json=SCHEDULE)
        assert schedule.status_code == 201, schedule.text
        assert as_dee.patch('/api/projects/dee-app', json={'on_push': {'branches': ['main']}}).status_code == 200

    sign_in_page(page, server.url, server.operator)
    page.goto(server.url + '/settings/tokens')
    expect(page.get_by_test_id('people')).to_have_attribute('data-loaded', 'true')
    admin = page.locator('[data-person]', has=page.get_by_text('local', exact=True))
    # the team's only other operator is Dee: the administrator may still leave, Dee being one
    row = page.locator(f'[data-person="{dee_id}"]')
    expect(row).to_contain_text('Dee')
    row.get_by_test_id('remove-person').click()

    dialog = page.get_by_test_id('remove-person-dialog')
    expect(dialog).to_contain_text('Remove Dee from your teams?')
    effects = dialog.get_by_test_id('removal-effect')
    expect(effects).to_have_text(
        [
            'Dee leaves Local.',
            'They are then in no team: their 1 token is revoked, refused from the next request on every server.',
            '1 schedule they own is paused: nightly (dee-app).',
            re.compile(r'^The push rules of Dee app start runs as Dee: .*save those push rules again to own them\.$'),
        ]
    )
    found = axe_violations(page, 'remove-person-dialog')  # the confirmation as a screen reader meets it
    assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)
    dialog.get_by_role('button', name='Cancel').click()  # nothing happens
    expect(dialog).to_have_count(0)
    with server.api(dee) as as_dee:
        assert as_dee.get('/api/me').status_code == 200

    row.get_by_test_id('remove-person').click()
    page.get_by_test_id('remove-person-submit').click()
    expect(row).to_have_count(0)  # gone from the list
    expect(page.get_by_text('Removed Dee from Local.')).to_be_visible()
    with server.api(dee) as as_dee:
        assert as_dee.get('/api/me').status_code == 401
    with server.api() as api:
        shown = api.get(f'/api/projects/dee-app/schedules/{schedule.json()["id"]}').json()
        assert (shown['paused'], shown['user_name']) == (True, 'Dee')
    page.reload()
    expect(page.get_by_test_id('people')).to_have_attribute('data-loaded', 'true')
    expect(page.locator(f'[data-person="{dee_id}"]')).to_have_count(0)
    # the administrator is now the team's last operator: neither demoted nor removed, and the page says why
    blocked = admin.get_by_test_id('person-not-changed')
    expect(blocked).to_contain_text('last operator')
    expect(admin.get_by_test_id('change-role')).to_have_count(0)
    expect(admin.get_by_test_id('remove-person')).to_have_count(0)


def test_an_operator_changes_a_persons_role_which_holds_at_their_next_request(page: Page, server: SignInServer) -> None:
    eve_id, eve = server.add_person('Eve', 'builder')
    sign_in_page(page, server.url, server.operator)
    page.goto(server.url + '/settings/tokens')
    expect(page.get_by_test_id('people')).to_have_attribute('data-loaded', 'true')
    row = page.locator(f'[data-person="{eve_id}"]')
    expect(row.locator('[data-role]')).to_have_attribute('data-role', 'builder')
    row.get_by_test_id('change-role').click()
    dialog = page.get_by_test_id('change-role-dialog')
    dialog.get_by_test_id('role-select').click()
    page.get_by_role('option', name=re.compile('^Operator')).click()
    expect(dialog).to_contain_text('Eve can also configure projects')
    dialog.get_by_test_id('change-role-submit').click()
    expect(row.locator('[data-role]')).to_have_attribute('data-role', 'operator')
    with server.api(eve) as as_eve:
        assert as_eve.get('/api/users').status_code == 200  # an operator's, at once
