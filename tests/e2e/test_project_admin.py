"""Projects, people and tokens in the UI, in real Chromium, on a server where each browser signs in with its own
token: an operator creates a project (after the server refused a bad id, beside the id box), changes its limits (a
save on settings another tab changed meanwhile is refused in words, with Reload), cannot delete it while a run is
active (said in words) and then can; a builder sees the settings read-only (but may clear the run caches) and no New
project; an operator adds a person and creates a token that is shown once, works, is revoked in the UI and is
refused from then on."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.helpers.e2e import HEADER_CUT, SignInServer, expect_clipboard, screenshot, sign_in_page
from tests.helpers.repos import make_repo
from tests.helpers.runs import wait_for_status
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

SLOW = {'main': {'run.sh': 'echo start\nsleep 60\n'}, 'quick': {'run.sh': 'echo done\n'}}


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInServer]:
    base = tmp_path_factory.mktemp('project-admin')
    repo = make_repo(base / 'repo', SLOW)
    env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_UI_SIGN_IN': 'true', 'RUNBOARD_HEARTBEAT_SECONDS': '1'}
    with app_process(base / 'data', env=env) as app:
        token = json.loads((base / 'data' / 'credentials.json').read_text())['token']
        yield SignInServer(app['url'], token, repo)


def field_error(page: Page, key: str) -> Locator:
    """The error Quasar shows under the box whose input is data-testid=field-<key> (its hint otherwise)."""
    return page.locator('label.q-field', has=page.get_by_test_id(f'field-{key}')).locator('[role=alert]')


def test_an_operator_creates_a_project_then_changes_its_limits(page: Page, server: SignInServer) -> None:
    sign_in_page(page, server.url, server.operator)
    expect(page.get_by_test_id('nav-settings')).to_be_visible()
    page.get_by_test_id('new-project').click()
    page.wait_for_url(server.url + '/projects/new')
    page.get_by_test_id('field-name').fill('Web App')
    expect(page.get_by_test_id('field-id')).to_have_value('web-app')  # suggested by the name
    page.get_by_test_id('field-id').fill('Web App')  # not a slug: the server refuses it
    page.get_by_test_id('field-repository').fill(str(server.repo))
    page.get_by_test_id('field-command').fill("sh -c 'sh run.sh && echo ok'")
    preview = page.get_by_test_id('argv-preview')
    expect(preview.locator('[data-arg]')).to_have_text(['sh', '-c', 'sh run.sh && echo ok'])
    page.get_by_test_id('field-max_concurrent_runs').fill('3')
    page.get_by_test_id('create-project').click()
    expect(field_error(page, 'id')).to_have_text('Must be a slug: lowercase letters, digits and inner dashes.')
    with server.api() as api:
        assert api.get('/api/projects').json() == []

    page.get_by_test_id('field-id').fill('web-app')
    page.get_by_test_id('create-project').click()
    page.wait_for_url(server.url + '/projects/web-app')
    with server.api() as api:
        created = api.get('/api/projects/web-app').json()
    assert created['command'] == ['sh', '-c', 'sh run.sh && echo ok'] and created['max_concurrent_runs'] == 3

    page.get_by_test_id('project-settings-link').click()
    page.wait_for_url(server.url + '/projects/web-app/settings')
    limit = page.get_by_test_id('field-max_concurrent_runs')
    expect(limit).to_have_value('3')
    limit.fill('0')
    page.get_by_test_id('save-settings').click()
    expect(field_error(page, 'max_concurrent_runs')).to_have_text('Input should be greater than or equal to 1.')
    limit.fill('5')
    page.get_by_test_id('field-run_budget_seconds').fill('1h30m')
    page.get_by_test_id('save-settings').click()
    expect(page.get_by_test_id('form-saved')).to_have_text('Saved max concurrent runs and run budget.')
    expect(field_error(page, 'max_concurrent_runs')).to_have_count(0)  # the hint is back
    with server.api() as api:
        saved = api.get('/api/projects/web-app').json()
    assert (saved['max_concurrent_runs'], saved['run_budget_seconds']) == (5, 5400)
    page.reload()
    expect(page.get_by_test_id('field-max_concurrent_runs')).to_have_value('5')
    expect(page.get_by_test_id('field-run_budget_seconds')).to_have_value('1h30m')
    page.set_viewport_size({'width': 1200, 'height': 1500})  # the whole form
    screenshot(page, 'project-settings.png')

    # the settings saved in another tab meanwhile: this tab's Save is refused in words (nothing saved, what was typed
    # stays) with Reload, which fills the form with the project as it is now; saved on that, the change is kept
    other = page.context.new_page()
    try:
        other.goto(server.url + '/projects/web-app/settings')
        other.get_by_test_id('field-name').fill('Web App (prod)')
        other.get_by_test_id('save-settings').click()
        expect(other.get_by_test_id('form-saved')).to_have_text('Saved name.')
    finally:
        other.close()
    limit.fill('7')
    page.get_by_test_id('save-settings').click()
    result = page.get_by_test_id('form-result')
    expect(result.get_by_test_id('form-error')).to_have_text(
        'Could not save “Web App”: someone else changed this project since you opened it (another operator, or another '
        'tab). Nothing was saved. Reload shows it as it is now; then make your change again.'
    )
    expect(result.locator('[data-correlation-id]')).not_to_have_attribute('data-correlation-id', '')
    expect(limit).to_have_value('7')
    expect(page.get_by_test_id('field-name')).to_have_value('Web App')
    with server.api() as api:
        theirs = api.get('/api/projects/web-app').json()
    assert (theirs['name'], theirs['max_concurrent_runs']) == ('Web App (prod)', 5)
    result.scroll_into_view_if_needed()
    screenshot(page, 'project-settings-edit-conflict.png')
    expect(page.get_by_test_id('settings-project-name')).to_have_text('Web App')
    result.get_by_test_id('settings-reload').click()
    expect(page.get_by_test_id('field-name')).to_have_value('Web App (prod)')
    # the heading, the header and the tab's title name the project as it is now, not as it was opened
    expect(page.get_by_test_id('settings-project-name')).to_have_text('Web App (prod)')
    expect(page.get_by_test_id('page-name')).to_have_text('Web App (prod) · Settings')
    expect(page).to_have_title('Web App (prod) · Settings · Runboard')
    assert page.title() == 'Web App (prod) · Settings · Runboard'
    expect(limit).to_have_value('5')
    expect(page.get_by_test_id('field-run_budget_seconds')).to_have_value('1h30m')
    expect(result.get_by_test_id('form-error')).to_have_count(0)
    limit.fill('7')
    # a setting this page's own panel saves meanwhile does not make the form's next Save a conflict
    page.get_by_test_id('approval-required').click()
    expect(page.get_by_test_id('variables-saved')).to_contain_text("now waits for an operator's approval")
    page.get_by_test_id('save-settings').click()
    expect(page.get_by_test_id('form-saved')).to_have_text('Saved max concurrent runs.')
    with server.api() as api:
        kept = api.get('/api/projects/web-app').json()
    assert (kept['name'], kept['max_concurrent_runs'], kept['approval_required']) == ('Web App (prod)', 7, True)
    assert kept['edit_version'] == theirs['edit_version'] + 2  # the panel's change, then the form's


def test_a_command_with_a_space_inside_an_argument_reopens_as_the_line_typed(page: Page, server: SignInServer) -> None:
    with server.api() as api:
        assert api.post('/api/projects', json=_project('pytest-app', server)).status_code == 201
    sign_in_page(page, server.url, server.operator)
    page.goto(server.url + '/projects/pytest-app/settings')
    mode = page.get_by_test_id('command-mode')
    expect(mode.get_by_role('button', name='One shell-like line')).to_have_attribute('aria-pressed', 'true')
    command = page.get_by_test_id('field-command')
    command.fill('pytest -k "slow and not db"')
    preview = page.get_by_test_id('argv-preview')
    expect(preview.locator('[data-arg]')).to_have_text(['pytest', '-k', 'slow and not db'])
    page.get_by_test_id('save-settings').click()
    expect(page.get_by_test_id('form-saved')).to_contain_text('command')
    with server.api() as api:
        assert api.get('/api/projects/pytest-app').json()['command'] == ['pytest', '-k', 'slow and not db']

    page.reload()  # reopened: the line, as shlex writes it back, not one argument per line
    expect(command).to_have_value("pytest -k 'slow and not db'")
    expect(mode.get_by_role('button', name='One shell-like line')).to_have_attribute('aria-pressed', 'true')
    expect(mode.get_by_role('button', name='One argument per line')).to_have_attribute('aria-pressed', 'false')
    expect(preview.locator('[data-arg]')).to_have_text(['pytest', '-k', 'slow and not db'])
    command.scroll_into_view_if_needed()
    screenshot(page, 'project-settings-command-line.png')


def test_a_builder_sees_settings_read_only_and_no_new_project(page: Page, server: SignInServer) -> None:
    with server.api() as api:
        assert api.post('/api/projects', json=_project('ro-app', server)).status_code == 201
    sign_in_page(page, server.url, server.add_person('Bo', 'builder').token)
    page.locator('[data-project=ro-app]').wait_for()
    page.locator('[data-testid=nav-settings][data-checked]').wait_for(state='attached')  # the role is known
    expect(page.get_by_test_id('nav-settings')).to_be_hidden()
    expect(page.get_by_test_id('nav-audit')).to_be_hidden()  # the audit log is the operators' too
    page.locator('[data-testid=new-project][data-checked]').wait_for(state='attached')
    expect(page.get_by_test_id('new-project')).to_be_hidden()

    page.goto(server.url + '/projects/ro-app/settings')
    expect(page.get_by_test_id('readonly-note')).to_have_text('Only operators can change settings.')
    expect(page.get_by_test_id('field-name')).to_have_value('Ro-App')
    for key in ('name', 'repository', 'command', 'max_concurrent_runs'):
        expect(page.get_by_test_id(f'field-{key}')).to_have_attribute('readonly', '')
    expect(page.get_by_test_id('save-settings')).to_have_count(0)
    expect(page.get_by_test_id('delete-project')).to_have_count(0)
    # but the run caches are theirs to clear too (a broken cache breaks their builds)
    panel = page.get_by_test_id('caches-panel')
    expect(panel.locator('[data-cache=base]')).to_contain_text("the base branch's runs")
    expect(panel.locator('[data-cache=branches]')).to_contain_text('empty')
    expect(page.get_by_test_id('caches-cleared')).to_have_text('Never cleared.')
    with server.api() as api:
        before = api.get('/api/projects/ro-app/caches').json()['generation']
    page.get_by_test_id('caches-clear').click()
    expect(page.get_by_test_id('caches-said')).to_contain_text('Cleared: the next runs start with empty caches')
    expect(page.get_by_test_id('caches-cleared')).to_contain_text('Last cleared')
    with server.api() as api:
        assert api.get('/api/projects/ro-app/caches').json()['generation'] == before + 1
    page.set_viewport_size({'width': 1200, 'height': 1500})
    screenshot(page, 'project-settings-builder.png')

    page.goto(server.url + '/projects/new')
    expect(page.get_by_test_id('readonly-note')).to_have_text('Only operators can create projects.')
    expect(page.get_by_test_id('create-project')).to_have_count(0)

    page.goto(server.url + '/audit')  # a link kept from an operator: told whose page it is, not an error
    expect(page.get_by_test_id('readonly-note')).to_have_text(
        'The audit log is for operators. Ask an operator of your team what happened.'
    )
    expect(page.get_by_test_id('audit-filters')).to_have_count(0)


def test_a_project_with_an_active_run_is_not_deleted_until_the_run_ends(page: Page, server: SignInServer) -> None:
    with server.api() as api:
        assert api.post('/api/projects', json=_project('busy-app', server)).status_code == 201
        run = api.post(
            '/api/runs',
            json={'project_id': 'busy-app', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'},
        ).json()
    sign_in_page(page, server.url, server.operator)
    page.goto(server.url + '/projects/busy-app/settings')
    page.get_by_test_id('delete-project').click()
    confirm = page.get_by_test_id('delete-confirm')
    expect(confirm).to_be_disabled()
    page.get_by_test_id('delete-confirm-input').fill('busy-app')
    confirm.click()
    expect(page.get_by_test_id('delete-refused')).to_contain_text(
        'Busy-App was not deleted: 1 run is still queued or running. Stop it'
    )
    expect(page.get_by_role('link', name=run['id'])).to_be_visible()

    with server.api() as api:
        api.post(f'/api/runs/{run["id"]}/stop')
        deadline = time.monotonic() + 60
        while api.get(f'/api/runs/{run["id"]}').json()['status'] in ('queued', 'running', 'stopping'):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    confirm.click()
    page.wait_for_url(server.url + '/')
    with server.api() as api:
        assert api.get('/api/projects/busy-app').status_code == 404


def test_a_token_made_in_the_ui_is_shown_once_works_and_stops_at_its_revocation(
    page: Page, server: SignInServer
) -> None:
    sign_in_page(page, server.url, server.operator)
    page.get_by_test_id('nav-settings').click()
    page.wait_for_url(server.url + '/settings')
    page.get_by_test_id('open-tokens').click()
    page.wait_for_url(server.url + '/settings/tokens')

    page.get_by_test_id('add-person').click()
    page.get_by_test_id('person-name').fill('Cy')
    page.get_by_test_id('add-person-submit').click()
    first = page.get_by_test_id('new-token-value').input_value()
    with server.api(first) as cy:
        assert cy.get('/api/me').json()['name'] == 'Cy'
    page.get_by_test_id('token-done').click()

    person = page.locator('[data-person]', has_text='Cy')
    person.get_by_test_id('new-token').click()
    page.get_by_test_id('token-name').fill('ci')
    page.get_by_test_id('create-token-submit').click()
    shown = page.get_by_test_id('new-token-value')
    token = shown.input_value()
    assert token.startswith('rb_') and token != first
    expect(page.get_by_test_id('token-once')).to_contain_text('shown only this once')
    page.get_by_test_id('copy-token').click()
    expect_clipboard(page, token)
    screenshot(page, 'tokens.png')
    page.get_by_test_id('token-done').click()
    expect(shown).to_have_count(0)
    assert token not in page.content()  # gone from the page: shown once
    with server.api(token) as ci:
        assert ci.get('/api/me').json()['name'] == 'Cy'

    row = person.locator('[data-token]', has_text='ci')
    expect(row).to_have_count(1)
    row.get_by_test_id('revoke').click()
    dialog = page.get_by_role('alertdialog')
    expect(dialog).to_contain_text('Revoke token "ci"')
    dialog.get_by_role('button', name='Revoke').click()
    expect(row).to_have_count(0)
    with server.api(token) as ci:
        assert ci.get('/api/me').status_code == 401
    with server.api(first) as cy:
        assert cy.get('/api/me').status_code == 200  # Cy's other token keeps working
    page.reload()
    assert token not in page.content()


def test_an_operator_is_offered_tokens_only_of_the_people_they_may_manage(page: Page, server: SignInServer) -> None:
    """An operator who is no deployment administrator is not offered New token or Revoke for the administrator of
    their team (the server would answer 403), and reads why; their own tokens they manage."""
    sign_in_page(page, server.url, server.add_person('Olga', 'operator').token)
    page.goto(server.url + '/settings/tokens')
    expect(page.get_by_test_id('people')).to_have_attribute('data-loaded', 'true')
    admin = page.locator('[data-person]', has=page.get_by_text('local', exact=True))
    expect(admin.get_by_test_id('not-managed')).to_have_text(re.compile('only an admin manages an admin'))
    expect(admin.get_by_test_id('new-token')).to_have_count(0)
    expect(admin.get_by_test_id('revoke')).to_have_count(0)
    olga = page.locator('[data-person]', has_text='Olga')
    expect(olga.get_by_test_id('new-token')).to_have_count(1)
    expect(olga.get_by_test_id('revoke')).to_have_count(1)
    expect(olga.get_by_test_id('not-managed')).to_have_count(0)


def test_a_builder_makes_and_revokes_their_own_tokens_and_is_told_before_signing_out(
    page: Page, server: SignInServer
) -> None:
    """Personal tokens: a builder reaches "Your tokens" from the header, sees only their own row (no Add person, no
    refusal), makes a token that is shown once and acts as them, revokes it, and is told before revoking the token
    this browser signed in with that it signs them out, which it then does."""
    signed_in_with = server.add_person('Bea', 'builder').token
    sign_in_page(page, server.url, signed_in_with)
    page.get_by_test_id('nav-your-tokens').click()
    page.wait_for_url(server.url + '/settings/tokens')
    expect(page.get_by_role('heading', name='Your tokens', exact=True)).to_be_visible()
    expect(page.get_by_test_id('people')).to_have_attribute('data-loaded', 'true')
    expect(page.get_by_test_id('readonly-note')).to_have_count(0)
    expect(page.get_by_test_id('add-person')).to_have_count(0)
    rows = page.locator('[data-person]')
    expect(rows).to_have_count(1)
    bea = rows.first
    expect(bea).to_contain_text('Bea')
    expect(bea.get_by_test_id('not-managed')).to_have_count(0)

    bea.get_by_test_id('new-token').click()
    page.get_by_test_id('token-name').fill('ci')
    page.get_by_test_id('create-token-submit').click()
    token = page.get_by_test_id('new-token-value').input_value()
    assert token.startswith('rb_') and token != signed_in_with
    with server.api(token) as ci:
        acting = ci.get('/api/me').json()
        assert (acting['name'], acting['role']) == ('Bea', 'builder')
    page.get_by_test_id('token-done').click()
    ci_row = bea.locator('[data-token]', has_text='ci')
    expect(ci_row).to_have_count(1)
    page.set_viewport_size({'width': 1200, 'height': 800})
    screenshot(page, 'tokens-builder.png')

    ci_row.get_by_test_id('revoke').click()
    dialog = page.get_by_role('alertdialog')
    expect(dialog).to_contain_text('Revoke your token "ci"')
    expect(dialog).not_to_contain_text('signs you out')
    dialog.get_by_role('button', name='Revoke').click()
    expect(ci_row).to_have_count(0)
    with server.api(token) as ci:
        assert ci.get('/api/me').status_code == 401

    this_browser = bea.locator('[data-token]', has_text='this page')
    expect(this_browser).to_have_count(1)
    this_browser.get_by_test_id('revoke').click()
    expect(dialog).to_contain_text('this signs you out of this browser')
    dialog.get_by_role('button', name='Revoke').click()
    page.wait_for_url(re.compile(r'/login'))
    expect(page.get_by_test_id('signed-out-why')).to_contain_text('You were signed out')  # not a bare login page
    with server.api(signed_in_with) as gone:
        assert gone.get('/api/me').status_code == 401


def _project(project_id: str, server: SignInServer) -> dict:
    return {
        'id': project_id,
        'name': project_id.title(),
        'repository': str(server.repo),
        'base_branch': 'main',
        'command': ['sh', 'run.sh'],
        'depth_levels': ['shallow'],
        'target_frameworks': ['python'],
    }


def test_an_operator_approves_a_builders_run_of_a_protected_branch(page: Page, server: SignInServer) -> None:
    """In the Settings panel the operator protects a secret and asks for approvals; a builder's run of main then
    waits (the page says why and offers the builder no Approve); the operator's Approve lets it run with the
    protected secret, which a run of another branch does not get."""
    with server.api() as api:
        project = {**_project('deploy-app', server), 'command': ['sh', '-c', 'echo "key=${DEPLOY_KEY:-none}"']}
        assert api.post('/api/projects', json=project).status_code == 201
    sign_in_page(page, server.url, server.operator)
    page.goto(server.url + '/projects/deploy-app/settings')
    page.get_by_test_id('variable-name').fill('DEPLOY_KEY')
    page.get_by_test_id('variable-value').fill('dk-123456')
    page.get_by_test_id('variable-protected-choice').click()
    page.get_by_test_id('variable-save').click()
    expect(page.locator('[data-variable=DEPLOY_KEY]').get_by_test_id('variable-protected')).to_have_text('protected')
    page.get_by_test_id('approval-required').click()
    expect(page.get_by_test_id('variables-saved')).to_contain_text("now waits for an operator's approval")

    builder = server.add_person('Dana', 'builder').token
    body = {'project_id': 'deploy-app', 'depth_level': 'shallow', 'target_framework': 'python'}
    with server.api(builder) as api:
        waiting = api.post('/api/runs', json={**body, 'branch': 'main'}).json()
        other = api.post('/api/runs', json={**body, 'branch': 'quick'}).json()
    assert waiting['approval'] == 'waiting' and other['status'] == 'queued'

    builder_page = page.context.browser.new_page()
    try:
        sign_in_page(builder_page, server.url, builder)
        builder_page.goto(f'{server.url}/runs/{waiting["id"]}')
        expect(builder_page.locator('[data-field=approval]')).to_have_text(
            "waiting for an operator's approval (branch main is protected)"
        )
        expect(builder_page.get_by_test_id('approve')).to_have_count(0)
        builder_page.goto(f'{server.url}/?status=delayed')  # nor in the runs list, its rows or its bulk bar
        expect(builder_page.locator(f'[data-run={waiting["id"]}]')).to_be_visible()
        builder_page.get_by_test_id('bulk-select').click()
        expect(builder_page.get_by_test_id('bulk-stop')).to_be_visible()
        expect(builder_page.get_by_test_id('approve')).to_have_count(0)
        expect(builder_page.get_by_test_id('bulk-approve')).to_have_count(0)
    finally:
        builder_page.close()

    page.goto(f'{server.url}/runs/{other["id"]}')
    expect(page.get_by_text('key=none')).to_be_visible()  # another branch's run: not given the protected secret
    page.goto(f'{server.url}/runs/{waiting["id"]}')
    page.get_by_test_id('approve').click()
    expect(page.get_by_test_id('run-header').get_by_text('succeeded')).to_be_visible(timeout=30_000)
    expect(page.get_by_text('key=***')).to_be_visible()  # given, and masked
    with server.api() as api:
        me = api.get('/api/me').json()['name']
    expect(page.locator('[data-param=approved-by]')).to_have_text(me)

    # more of the builder's runs of main: one approved from its row in the runs list, the rest from the bulk bar
    with server.api(builder) as api:
        later = [api.post('/api/runs', json={**body, 'branch': 'main'}).json()['id'] for _ in range(2)]
    page.goto(f'{server.url}/?status=delayed')
    page.locator(f'[data-run={later[0]}]').get_by_test_id('approve').click()
    expect(page.locator(f'[data-run={later[0]}]').get_by_test_id('approve')).to_have_count(0)
    page.get_by_test_id('bulk-select').click()
    page.get_by_test_id('bulk-all').click()
    page.get_by_test_id('bulk-approve').click()
    page.get_by_role('alertdialog').get_by_role('button', name='Approve').click()
    expect(page.get_by_test_id('bulk-summary')).to_have_text(re.compile(r'^1 approved, [01] skipped, 0 refused$'))
    with server.api() as api:
        for run_id in later:
            assert wait_for_status(api, run_id, timeout=60)['status'] == 'succeeded'


@pytest.mark.parametrize('role', ['operator', 'builder'])
def test_the_signed_in_header_fits_a_phone(page: Page, server: SignInServer, role: str) -> None:
    """On a 390 px phone a signed-in person's header (Workers, Audit, Settings or Your tokens, the mode chip, who
    they are, Sign out) wraps rather than pushing Sign out past the screen's edge."""
    sign_in_page(page, server.url, server.add_person(f'Phone {role}', role).token)
    page.set_viewport_size({'width': 390, 'height': 844})
    page.locator('[data-testid=nav-settings][data-checked]').wait_for(state='attached')  # the role is known
    assert page.evaluate(HEADER_CUT) == []
    expect(page.get_by_test_id('sign-out')).to_be_in_viewport(ratio=1)
    screenshot(page, f'header-phone-{role}.png')
