"""Team mode (PostgreSQL + Redis): each browser signs in with its own token and sees only its teams' work."""

from __future__ import annotations

import contextlib
import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import delete

from app.infra.db import dispose, make_engine
from app.models import ApiToken, Role
from app.services.identity.accounts import create_user, ensure_team
from tests.helpers.backends import REDIS_URL, pg_schema, require_team_services
from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def team_server(tmp_path_factory):  # noqa: ANN001, ANN201
    require_team_services()
    base = tmp_path_factory.mktemp('signin')
    files = {'run.sh': 'echo hello\n'}
    with pg_schema() as url:
        env = {
            'RUNBOARD_DATABASE_URL': url,
            'RUNBOARD_REDIS_URL': REDIS_URL,
            'RUNBOARD_DEMO': 'false',
            'RUNBOARD_REDIS_PREFIX': 'rbtest:' + uuid.uuid4().hex[:10],
            'RUNBOARD_HEARTBEAT_SECONDS': '1',
            'RUNBOARD_ALLOW_LOCAL_REPOSITORIES': 'true',  # team mode on local test repositories
        }
        with app_process(base / 'data', env=env) as server:
            engine = make_engine(url, pool_size=1)
            people = {}
            try:
                for name, team in (('Alice', 'red'), ('Bob', 'blue')):
                    ensure_team(engine, team, team)
                    user, token = create_user(engine, name=name, role=Role.operator, team_ids=[team])
                    people[name] = {'token': token, 'team': team, 'user_id': user.id}
                    _api(
                        server['url'],
                        token,
                        'POST',
                        '/api/projects',
                        json={
                            'id': f'{team}-app',
                            'name': f'{team.title()} App',
                            'repository': str(make_repo(base / team, {'main': files, 'live': files})),
                            'base_branch': 'main',
                            'command': ['sh', 'run.sh'],
                            'depth_levels': ['shallow'],
                            'target_frameworks': ['python'],
                        },
                    )
                    people[name]['run'] = _trigger(server['url'], token, f'{team}-app')
                yield {'url': server['url'], 'people': people, 'engine': engine}
            finally:
                dispose(engine)


def _api(url: str, token: str, method: str, path: str, headers: dict | None = None, **kwargs) -> dict:  # noqa: ANN003
    reply = httpx.request(
        method, url + path, headers={'Authorization': f'Bearer {token}', **(headers or {})}, timeout=30, **kwargs
    )
    assert reply.status_code < 300, reply.text
    return reply.json()


def _trigger(url: str, token: str, project_id: str, branch: str = 'main') -> str:
    return _api(
        url,
        token,
        'POST',
        '/api/runs',
        headers={'Idempotency-Key': str(uuid.uuid4())},
        json={'project_id': project_id, 'branch': branch, 'depth_level': 'shallow', 'target_framework': 'python'},
    )['id']


def _sign_in(page, url: str, token: str) -> None:  # noqa: ANN001
    page.locator('[data-testid=token-input] input, input[type=password]').first.fill(token)
    page.get_by_role('button', name='Sign in').click()


def test_unsigned_browser_goes_to_login_and_a_bad_token_is_refused(team_server, page) -> None:  # noqa: ANN001
    url = team_server['url']
    page.goto(url + '/projects/red-app?status=failed')
    page.wait_for_url(re.compile(r'/login\?next='))
    assert page.url.endswith('/login?next=%2Fprojects%2Fred-app%3Fstatus%3Dfailed')
    _sign_in(page, url, 'rb_not-a-real-token')
    error = page.get_by_test_id('login-error')
    error.wait_for()
    assert 'not valid' in error.inner_text()
    assert '/login' in page.url
    # the sign-in page links nowhere a person not signed in is refused (the Workers page answers only them)
    assert page.get_by_test_id('nav-workers').count() == 0
    # and where the very first token comes from, on a server with nobody yet (a team server makes no local account)
    assert (
        'runboard users add NAME --team TEAM --role operator --admin'
        in page.get_by_test_id('first-admin-hint').inner_text()
    )
    screenshot(page, 'sign-in-bad-token.png')
    _sign_in(page, url, team_server['people']['Alice']['token'])  # then back where it came from
    page.wait_for_url(url + '/projects/red-app?status=failed')


def test_each_person_sees_only_their_teams_projects_and_runs(team_server, browser, page) -> None:  # noqa: ANN001
    url, people = team_server['url'], team_server['people']
    other = browser.new_context(viewport={'width': 1200, 'height': 900})
    try:
        bob_page = other.new_page()
        for tab, name in ((page, 'Alice'), (bob_page, 'Bob')):
            tab.goto(url + '/')
            tab.wait_for_url('**/login')
            _sign_in(tab, url, people[name]['token'])
            tab.wait_for_url(url + '/')
            assert tab.get_by_test_id('signed-in-as').inner_text() == f'{name} · operator'
        for tab, mine, theirs in ((page, 'Alice', 'Bob'), (bob_page, 'Bob', 'Alice')):
            project, other_project = f'{people[mine]["team"]}-app', f'{people[theirs]["team"]}-app'
            tab.locator(f'[data-project={project}]').wait_for()
            tab.locator(f'[data-run={people[mine]["run"]}]').wait_for()
            tab.locator('[data-testid=runs][data-live=true]').wait_for()
            assert tab.locator(f'[data-project={other_project}]').count() == 0
            assert tab.locator(f'[data-run={people[theirs]["run"]}]').count() == 0
        # live: each person's stream brings their own new run, not the other team's
        alice_new = _trigger(url, people['Alice']['token'], 'red-app', 'live')
        bob_new = _trigger(url, people['Bob']['token'], 'blue-app', 'live')
        page.locator(f'[data-run={alice_new}]').wait_for()
        bob_page.locator(f'[data-run={bob_new}]').wait_for()
        assert page.locator(f'[data-run={bob_new}]').count() == 0
        assert bob_page.locator(f'[data-run={alice_new}]').count() == 0
        screenshot(page, 'sign-in-dashboard.png')

        page.get_by_test_id('sign-out').click()
        page.wait_for_url('**/login')
        page.goto(url + '/')
        page.wait_for_url('**/login')
        bob_page.reload()  # signing out one browser leaves the other signed in
        bob_page.locator('[data-project=blue-app]').wait_for()
        assert '/login' not in bob_page.url
    finally:
        other.close()


def test_a_revoked_token_sends_the_browser_back_to_login(team_server, page) -> None:  # noqa: ANN001
    """Carol stays on the dashboard; her token is revoked; the next live change her tab fetches gets a 401
    (in the tab's background task, no reload) and the tab lands on /login."""
    from sqlmodel import Session

    url, alice = team_server['url'], team_server['people']['Alice']
    engine = team_server['engine']
    user, token = create_user(engine, name='Carol', role=Role.builder, team_ids=['red'])
    page.goto(url + '/login')
    _sign_in(page, url, token)
    page.wait_for_url(url + '/')
    page.locator('[data-testid=runs][data-live=true]').wait_for()
    with Session(engine) as session:
        session.exec(delete(ApiToken).where(ApiToken.user_id == user.id))
        session.commit()
    deadline = time.monotonic() + 60  # the server may trust a token it checked for a few seconds more
    while '/login' not in page.url and time.monotonic() < deadline:
        httpx.post(
            url + '/api/runs',
            headers={'Authorization': f'Bearer {alice["token"]}', 'Idempotency-Key': str(uuid.uuid4())},
            json={'project_id': 'red-app', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'},
            timeout=30,
        )  # a change Carol's tab reacts to
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_url('**/login?ended=1', timeout=2000)
    assert page.url.endswith('/login?ended=1'), page.url  # the page says the sign-in ended, and why
    page.get_by_test_id('token-input').wait_for()
    page.goto(url + '/')  # the revoked token is forgotten: still signed out
    page.wait_for_url('**/login')


def test_the_plain_reset_form_acts_as_the_signed_in_person(team_server, page) -> None:  # noqa: ANN001
    """The no-JavaScript Reset form carries a CSRF token minted from Alice's own API token."""
    from sqlmodel import Session

    from app.models import Project

    url, alice = team_server['url'], team_server['people']['Alice']
    with Session(team_server['engine']) as session:
        project = session.get(Project, 'red-app')
        project.consecutive_failures = 3
        session.add(project)
        session.commit()
    assert _api(url, alice['token'], 'GET', '/api/projects/red-app')['paused'] is True
    page.goto(url + '/login')
    _sign_in(page, url, alice['token'])
    page.wait_for_url(url + '/')
    form_button = page.locator('[data-reset-form=red-app]')
    form_button.wait_for()
    # the form is there for a page that lost its server connection (a connected one asks in its own dialog); the
    # browser asks first
    page.evaluate('() => window.socket.disconnect()')
    questions: list[str] = []
    page.once('dialog', lambda dialog: (questions.append(dialog.message), dialog.accept()))
    with page.expect_navigation():
        form_button.click()
    assert questions == [
        'Reset the AFK loop for Red App? Auto is off: it launches nothing by itself until Auto is switched on; '
        'the failure count goes back to 0.'
    ]
    assert page.url.rstrip('/') == url  # 303 back to the dashboard, still signed in
    after = _api(url, alice['token'], 'GET', '/api/projects/red-app')
    assert after['consecutive_failures'] == 0 and after['paused'] is False


def test_the_header_shows_the_role_a_person_has_now(team_server, browser) -> None:  # noqa: ANN001
    """An operator makes another a builder while that person is signed in: their next page says builder and offers
    their own tokens (it said the role they signed in with until they signed in again)."""
    url, engine = team_server['url'], team_server['engine']
    ensure_team(engine, 'green', 'green')
    _, gil = create_user(engine, name='Gil', role=Role.operator, team_ids=['green'])
    dora, dora_token = create_user(engine, name='Dora', role=Role.operator, team_ids=['green'])
    context = browser.new_context(viewport={'width': 1200, 'height': 900})
    try:
        tab = context.new_page()
        tab.goto(url + '/login')
        _sign_in(tab, url, dora_token)
        tab.wait_for_url(url + '/')
        assert tab.get_by_test_id('signed-in-as').inner_text() == 'Dora · operator'
        _api(url, gil, 'PATCH', f'/api/users/{dora.id}', json={'role': 'builder'})
        tab.reload()
        tab.get_by_test_id('nav-your-tokens').wait_for()
        assert tab.get_by_test_id('signed-in-as').inner_text() == 'Dora · builder'
        tab.get_by_test_id('provenance').wait_for()
        assert 'builder' in (tab.get_by_test_id('provenance').get_attribute('aria-label') or '')
    finally:
        context.close()
