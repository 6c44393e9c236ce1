"""Session fixation (sign-in required): signing in, by the login page or the no-JavaScript form, and signing out
give the browser a new session id; a cookie taken before either is not signed in afterwards, and the login
page's one-time hand-over cannot be replayed with the old cookie."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

SESSION_COOKIE = 'session'  # NiceGUI's signed session cookie (Starlette's SessionMiddleware)


@pytest.fixture(scope='module')
def server(tmp_path_factory) -> Iterator[dict]:  # noqa: ANN001
    data = tmp_path_factory.mktemp('sessions') / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'false', 'RUNBOARD_UI_SIGN_IN': 'true'}) as app:
        app['token'] = json.loads((data / 'credentials.json').read_text())['token']
        yield app


def session_cookie(context) -> dict:  # noqa: ANN001
    return next(c for c in context.cookies() if c['name'] == SESSION_COOKIE)


def signed_in_with(browser, url: str, cookie: dict) -> bool:  # noqa: ANN001
    """Does a fresh browser holding only this cookie get the dashboard (not the login page)?"""
    context = browser.new_context()
    try:
        context.add_cookies([cookie])
        page = context.new_page()
        page.goto(url + '/')
        page.wait_for_url(re.compile(r'/login$|/$'))
        return not page.url.endswith('/login')
    finally:
        context.close()


def test_a_cookie_taken_before_sign_in_or_sign_out_is_not_signed_in_after(server, browser, page) -> None:  # noqa: ANN001
    url = server['url']
    page.goto(url + '/login')
    page.get_by_test_id('token-input').wait_for()
    planted = session_cookie(page.context)  # what an attacker could have set or copied before the sign-in
    posted = []
    page.on('request', lambda r: posted.append(r.post_data) if r.url == url + '/login/session' else None)

    page.locator('[data-testid=token-input] input, input[type=password]').first.fill(server['token'])
    page.get_by_role('button', name='Sign in').click()
    page.wait_for_url(url + '/')
    expect(page.get_by_test_id('signed-in-as')).to_contain_text('local')
    signed = session_cookie(page.context)
    assert signed['value'] != planted['value']
    assert signed_in_with(browser, url, signed)
    assert not signed_in_with(browser, url, planted)  # the old id is dead

    # the hand-over the page posted, sent again with the planted cookie: nothing
    assert len(posted) == 1 and 'ticket=' in posted[0]
    replay = httpx.post(
        url + '/login/session',
        content=posted[0],
        headers={'Content-Type': 'application/x-www-form-urlencoded'},
        cookies={SESSION_COOKIE: planted['value']},
        follow_redirects=False,
    )
    assert replay.status_code == 303 and replay.headers['location'].startswith('/login')
    assert not signed_in_with(browser, url, planted)

    page.get_by_test_id('sign-out').click()
    page.wait_for_url(url + '/login')
    assert session_cookie(page.context)['value'] != signed['value']
    assert not signed_in_with(browser, url, signed)  # the signed-in cookie, taken before sign-out, is dead too
    page.goto(url + '/')
    page.wait_for_url(url + '/login')


def test_the_plain_sign_in_form_issues_a_new_session(server, browser) -> None:  # noqa: ANN001
    url = server['url']
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        form = client.get('/plain')
        assert 'name="token"' in form.text
        planted = client.cookies[SESSION_COOKIE]
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = client.post(
            '/plain/sign-in', data={'csrf_token': csrf.group(1), 'token': server['token']}, headers={'Origin': url}
        )
        assert answer.status_code == 303
        assert client.cookies[SESSION_COOKIE] != planted
        assert 'name="token"' not in client.get('/plain').text  # signed in: the project list
    base = {'domain': '127.0.0.1', 'path': '/'}
    assert signed_in_with(browser, url, {**base, 'name': SESSION_COOKIE, 'value': client.cookies[SESSION_COOKIE]})
    assert not signed_in_with(browser, url, {**base, 'name': SESSION_COOKIE, 'value': planted})
