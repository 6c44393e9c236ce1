"""What a person types on a page that has just appeared, before its connection to the UI server is up, stays typed
and is what the page sends: the server's messages to the page are held here until the text is in. A page that set
a field's value while it was being built queued a message that reset the field to that value once the connection
came up (NiceGUI's updateValue), so a command typed quickly on the project's settings page was saved as it was
before ("Nothing changed")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import Stack, stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp('typed-early'), RUNBOARD_RATE_LIMIT_RUNS='1000') as s:
        s.create_project('alpha', max_concurrent_runs=10)
        yield s


def hold_server_messages(page: Page) -> Callable[[], None]:
    """Hold what the UI server sends the page (the connection's opening too) until the returned call sends it all,
    in order, and lets the rest through."""
    held: list = []
    route: dict = {'hold': True}

    def intercept(ws) -> None:  # noqa: ANN001 - a Playwright WebSocketRoute
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda message: held.append(message) if route['hold'] else ws.send(message))
        route['page'] = ws

    page.route_web_socket(re.compile(r'/_nicegui_ws/'), intercept)

    def release() -> None:
        route['hold'] = False
        for message in held:
            route['page'].send(message)

    return release


def test_a_command_typed_before_the_settings_page_connects_is_saved(page: Page, env: Stack) -> None:
    release = hold_server_messages(page)
    page.goto(f'{env.ui_url}/projects/alpha/settings')
    command = page.get_by_test_id('field-command')
    command.fill('sh -c "echo typed early"')
    release()
    expect(page.get_by_test_id('argv-preview').locator('[data-arg]')).to_have_text(['sh', '-c', 'echo typed early'])
    expect(command).to_have_value('sh -c "echo typed early"')
    page.get_by_test_id('save-settings').click()
    expect(page.get_by_test_id('form-saved')).to_contain_text('command')
    with env.api() as api:
        assert api.get('/api/projects/alpha').json()['command'] == ['sh', '-c', 'echo typed early']


def test_variables_typed_as_soon_as_the_run_form_shows_reach_the_run(page: Page, env: Stack) -> None:
    """The project page may draw its Run form only once its connection is up, and goes on building below it: typed
    the moment the form shows, and Run pressed at once, its variables reach the run."""
    page.goto(f'{env.ui_url}/projects/alpha')
    page.get_by_test_id('variables').fill('TARGET=early')
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    with env.api() as api:
        assert api.get(f'/api/runs/{run_id}').json()['variables'] == {'TARGET': 'early'}
