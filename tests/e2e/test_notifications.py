"""Notifications in Chromium: an operator adds a webhook on the project's Notifications page and sees its signing
secret once (Copy puts it on the clipboard; closing the dialog removes it from the page); switches on browser
notifications; a failing run of theirs shows a signed delivery in the log and a browser notification; its attempt's
Answer shows what the receiver said; Redeliver sends the same delivery again; on a webhook's log whose deliveries
gave up, Redeliver all that gave up asks with how many and queues them. An operator edits a webhook's URL and events
(a refused URL is said at its box; a save on a webhook another operator changed meanwhile is refused in words, with
Reload) and another tab shows the change."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

from app.services.notifications.signature import verify
from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import BRANCHES, expect_clipboard, screenshot, stack
from tests.helpers.webhooks import receiver

pytestmark = pytest.mark.e2e

# the browser's Notification, recorded (Chromium shows nothing headless); permission is asked and granted
FAKE_NOTIFICATION = """
window.__notes = [];
class FakeNotification {
  constructor(title, options) { window.__notes.push({title, ...(options || {})}); }
  static get permission() { return localStorage.getItem('fake.permission') || 'default'; }
  static requestPermission() { localStorage.setItem('fake.permission', 'granted'); return Promise.resolve('granted'); }
}
window.Notification = FakeNotification;
"""


def add_rule(page: Page, env) -> None:  # noqa: ANN001
    """Add webhook -> the secret dialog. On a loaded machine a click has been seen to get no answer at all (no
    rule made, nothing in either log, the form still filled): then, and only when no rule exists, it is
    clicked once more, so the test still fails if adding does not work."""
    page.get_by_test_id('rule-add').click()
    try:
        expect(page.get_by_test_id('secret-once')).to_be_visible(timeout=10_000)
        return
    except AssertionError:
        with env.api() as api:
            assert api.get('/api/projects/alpha/notifications').json() == [], 'a rule was made: no second click'
    page.get_by_test_id('rule-add').click()
    expect(page.get_by_test_id('secret-once')).to_be_visible(timeout=15_000)


def test_an_operator_adds_a_webhook_and_a_failing_run_is_delivered_and_redelivered(tmp_path, page: Page) -> None:  # noqa: ANN001
    branches = {**BRANCHES, 'fix/broken': {'run.sh': 'echo "tests: 1 failed"\nexit 2\n'}}
    settings = dict(
        RUNBOARD_NOTIFICATION_BACKOFF_SECONDS='[0.5]',
        RUNBOARD_NOTIFICATION_POLL_SECONDS='0.3',
        RUNBOARD_NOTIFICATION_MAX_ATTEMPTS='1',  # a delivery to nowhere gives up at once
    )
    with receiver() as rx, stack(tmp_path, branches, **settings) as env:
        env.create_project('alpha')
        page.add_init_script(FAKE_NOTIFICATION)
        page.goto(f'{env.ui_url}/projects/alpha')
        page.get_by_test_id('project-notifications-link').click()
        page.wait_for_url(re.compile(r'/projects/alpha/notifications$'))
        expect(page).to_have_title('Alpha · Notifications · Runboard')
        expect(page.get_by_test_id('rules')).to_contain_text('No webhooks yet.')

        # browser notifications for my runs: the browser asks, the answer is yes
        page.get_by_test_id('browser-notify').click()
        expect(page.get_by_text('On: a notification appears when one of your runs ends')).to_be_visible()

        page.get_by_test_id('add-rule').click()
        page.get_by_test_id('rule-url').fill(rx.url)
        page.get_by_test_id('rule-name').fill('CI alerts')
        dialog = page.get_by_test_id('secret-once')
        add_rule(page, env)
        secret = page.get_by_test_id('secret-value').input_value()
        assert secret.startswith('whsec_')
        page.get_by_test_id('copy-secret').click()
        # the clipboard is the browser's, shared with earlier tests: wait for the write rather than read once
        expect_clipboard(page, secret)
        page.get_by_test_id('secret-done').click()
        expect(dialog).to_be_hidden()
        rule = page.locator('[data-testid=rules] [data-rule]')
        expect(rule).to_have_count(1)
        expect(rule).to_contain_text('CI alerts')
        expect(rule).to_contain_text('Run failed, Run timed out, Run crashed')
        assert secret not in page.content()  # shown once: gone from the page

        run = env.trigger('alpha', 'fix/broken').json()
        delivered = page.locator('[data-testid=deliveries] [data-status=delivered]')
        expect(delivered).to_have_count(1, timeout=30_000)
        expect(delivered).to_contain_text('Run failed')
        expect(delivered).to_contain_text(run['id'])
        expect(delivered.locator('[data-attempt="1"]')).to_contain_text('HTTP 200')
        [request] = rx.wait_for(1)
        assert verify(secret, request.headers['x-runboard-signature'], request.body, now=time.time())
        assert json.loads(request.body)['run']['id'] == run['id']

        page.wait_for_function('window.__notes.length > 0', timeout=15_000)
        [note] = page.evaluate('window.__notes')
        assert note['title'] == 'Run failed (exit code 2)' and note['tag'] == f'runboard-{run["id"]}'
        assert 'alpha · fix/broken' in note['body']
        expect(page.get_by_text('Signing secret copied to the clipboard.')).to_be_hidden()
        screenshot(page, 'notifications.png')

        # what the receiver said, read when its Answer button is pressed (operators)
        answer = delivered.get_by_role('button', name='Answer to attempt #1')
        expect(answer).to_have_attribute('aria-expanded', 'false')
        answer.click()
        said = delivered.get_by_role('region', name='Answer to attempt #1')
        expect(said).to_contain_text('text/plain · the whole body')
        expect(said.locator('[data-field=excerpt]')).to_have_text('ok')
        expect(answer).to_have_attribute('aria-expanded', 'true')

        delivered.get_by_test_id('redeliver').click()
        expect(delivered.locator('[data-attempt="2"]')).to_contain_text('redelivered', timeout=15_000)
        expect(delivered.locator('[data-field=state]')).to_contain_text('after 2 attempts')
        again = rx.wait_for(2)[1]
        assert again.headers['x-runboard-delivery'] == request.headers['x-runboard-delivery']
        assert again.body == request.body

        # a webhook to nowhere: its test gives up; its log offers to send again all that gave up, with how many
        with env.api() as api:
            nowhere = api.post(
                '/api/projects/alpha/notifications', json={'url': 'http://127.0.0.1:9/hook', 'name': 'Gone'}
            )
            assert (
                api.post(f'/api/projects/alpha/notifications/{nowhere.json()["id"]}/test').json()['status'] == 'gave_up'
            )
        page.reload()
        # the page built and following (its read on the stream's open done): a menu opened sooner was once gone
        expect(page.get_by_test_id('rules')).to_have_attribute('data-live', 'true')
        bulk = page.get_by_role('button', name='Redeliver all that gave up')
        page.get_by_label('Show the deliveries of').click()
        page.get_by_role('option', name='Gone').click()
        expect(page.locator('[data-testid=deliveries] [data-status=gave_up]')).to_have_count(1)
        expect(page.locator('[data-testid=deliveries] [data-delivery]')).to_have_count(1)  # that webhook's only
        expect(bulk).to_have_attribute('aria-label', 'Redeliver all that gave up in the last 24 hours to Gone')
        bulk.click()
        asked = page.get_by_role('alertdialog')
        expect(asked).to_contain_text('Redeliver 1 delivery of “Gone” that gave up in the last 24 hours?')
        asked.get_by_role('button', name='Redeliver 1').click()
        expect(page.get_by_text('Queued 1 delivery of “Gone” again.')).to_be_visible()
        # sent again at once (to nowhere: it gives up again, after its second attempt)
        expect(page.locator('[data-testid=deliveries] [data-attempt="2"]')).to_contain_text(
            'redelivered', timeout=15_000
        )


def field_error(scope: Locator, testid: str) -> Locator:
    """The error Quasar shows under the box whose input is data-testid=`testid`."""
    return scope.locator('label.q-field', has=scope.page.get_by_test_id(testid)).locator('[role=alert]')


def test_an_operator_edits_a_webhook_and_another_tab_sees_it(tmp_path, page: Page) -> None:  # noqa: ANN001
    """Edit opens the add form's fields filled with the rule (not its secret); Cancel sends nothing; a URL the server
    refuses is said at the URL box and what was typed stays; Save changes the row here and in another tab; a rule
    deleted while its dialog is open is said in words."""
    with stack(tmp_path) as env:
        env.create_project('alpha')
        with env.api() as api:
            made = api.post(
                '/api/projects/alpha/notifications', json={'url': 'http://127.0.0.1:9/old', 'name': 'CI alerts'}
            )
        assert made.status_code == 201, made.text
        rule = made.json()
        other = page.context.new_page()
        for tab in (page, other):
            tab.goto(f'{env.ui_url}/projects/alpha/notifications')
            expect(tab.get_by_test_id('rules')).to_have_attribute('data-live', 'true')  # built, and following
        row = page.locator(f'[data-rule="{rule["id"]}"]')
        dialog = page.get_by_test_id('edit-rule')
        url = dialog.get_by_test_id('rule-url')
        crashed = dialog.get_by_role('checkbox', name='Run crashed')
        succeeded = dialog.get_by_role('checkbox', name='Run succeeded')

        # the fields as the rule has them; Cancel closes with nothing sent
        row.get_by_test_id('rule-edit').click()
        expect(url).to_have_value('http://127.0.0.1:9/old')
        expect(dialog.get_by_test_id('rule-name')).to_have_value('CI alerts')
        expect(crashed).to_have_attribute('aria-checked', 'true')
        expect(succeeded).to_have_attribute('aria-checked', 'false')
        assert rule['secret'] not in page.content()
        dialog.get_by_test_id('rule-name').fill('Renamed, then cancelled')
        dialog.get_by_test_id('edit-cancel').click()
        expect(dialog).to_have_count(0)
        expect(row.locator('[data-field=name]')).to_have_text('CI alerts')

        # a URL the server refuses: its 422 at the URL box; what was typed stays, nothing is saved
        row.get_by_test_id('rule-edit').click()
        expect(dialog.get_by_test_id('rule-name')).to_have_value('CI alerts')  # opened afresh from the rule
        url.fill('ftp://127.0.0.1/new')
        crashed.click()
        succeeded.click()
        expect(succeeded).to_have_attribute('aria-checked', 'true')
        dialog.get_by_test_id('edit-save').click()
        expect(field_error(dialog, 'rule-url')).to_have_text('Must be an http:// or https:// URL.')
        expect(url).to_have_value('ftp://127.0.0.1/new')
        expect(crashed).to_have_attribute('aria-checked', 'false')
        expect(succeeded).to_have_attribute('aria-checked', 'true')
        found = axe_violations(page, 'edit-webhook-dialog')  # the dialog and its refusal as a screen reader meets them
        assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)
        with env.api() as api:
            kept = api.get(f'/api/projects/alpha/notifications/{rule["id"]}').json()
        assert (kept['url'], kept['events']) == (rule['url'], rule['events'])

        url.fill('http://127.0.0.1:9/new')
        dialog.get_by_test_id('edit-save').click()
        expect(dialog).to_have_count(0)
        expect(page.get_by_text('Saved the URL and events of “CI alerts”.')).to_be_visible()
        for tab in (page, other):  # no reload: this tab reads again after its Save, the other on the change event
            shown = tab.locator(f'[data-rule="{rule["id"]}"]')
            expect(shown.locator('[data-field=url]')).to_have_text('http://127.0.0.1:9/new')
            expect(shown.locator('[data-field=events]')).to_have_text(
                'Runboard JSON (signed) · Run failed, Run timed out, Run succeeded'
            )
            expect(shown.locator('[data-field=name]')).to_have_text('CI alerts')
        with env.api() as api:
            saved = api.get(f'/api/projects/alpha/notifications/{rule["id"]}').json()
            [entry] = api.get('/api/audit', params={'action': 'webhook.updated'}).json()['items']
        assert saved['events'] == ['run.failed', 'run.timed_out', 'run.succeeded']
        assert entry['details']['changed'] == {
            'url': 'http://127.0.0.1:9/…',
            'events': ['run.failed', 'run.timed_out', 'run.succeeded'],
        }

        # changed by another operator while the dialog is open: Save is refused in words (nothing saved, what was
        # typed stays) with Reload, which shows the rule as it is now; saved on that, the change is kept
        row.get_by_test_id('rule-edit').click()
        url.fill('http://127.0.0.1:9/mine')
        with env.api() as api:
            theirs = api.patch(
                f'/api/projects/alpha/notifications/{rule["id"]}', json={'url': 'http://127.0.0.1:9/theirs'}
            )
        assert theirs.status_code == 200, theirs.text
        expect(row.locator('[data-field=url]')).to_have_text('http://127.0.0.1:9/theirs')  # the row follows
        expect(url).to_have_value('http://127.0.0.1:9/mine')
        dialog.get_by_test_id('edit-save').click()
        problem = dialog.get_by_test_id('rule-problem')
        expect(problem).to_contain_text(
            'Could not save “CI alerts”: someone else changed this webhook since you opened it'
        )
        expect(problem.locator('[data-correlation-id]')).not_to_have_attribute('data-correlation-id', '')
        expect(url).to_have_value('http://127.0.0.1:9/mine')
        with env.api() as api:
            assert api.get(f'/api/projects/alpha/notifications/{rule["id"]}').json()['url'] == theirs.json()['url']
        screenshot(page, 'webhook-edit-conflict.png')
        problem.get_by_test_id('rule-reload').click()
        expect(url).to_have_value('http://127.0.0.1:9/theirs')
        expect(problem).to_have_count(0)
        url.fill('http://127.0.0.1:9/mine')
        dialog.get_by_test_id('edit-save').click()
        expect(dialog).to_have_count(0)
        expect(row.locator('[data-field=url]')).to_have_text('http://127.0.0.1:9/mine')
        with env.api() as api:
            kept = api.get(f'/api/projects/alpha/notifications/{rule["id"]}').json()
        assert (kept['url'], kept['version']) == ('http://127.0.0.1:9/mine', theirs.json()['version'] + 1)

        # deleted by another operator while the dialog is open: the row goes, the dialog and what was typed stay,
        # and Save says so in words with the correlation id
        row.get_by_test_id('rule-edit').click()
        dialog.get_by_test_id('rule-name').fill('Too late')
        with env.api() as api:
            assert api.delete(f'/api/projects/alpha/notifications/{rule["id"]}').status_code == 204
        expect(page.get_by_test_id('rules')).to_contain_text('No webhooks yet.')
        expect(dialog.get_by_test_id('rule-name')).to_have_value('Too late')
        dialog.get_by_test_id('edit-save').click()
        problem = dialog.get_by_test_id('rule-problem')
        expect(problem).to_contain_text('Could not save “CI alerts”: the webhook was deleted meanwhile')
        expect(problem.locator('[data-correlation-id]')).not_to_have_attribute('data-correlation-id', '')
        expect(dialog.get_by_test_id('rule-name')).to_have_value('Too late')
        dialog.get_by_test_id('edit-cancel').click()
        expect(dialog).to_have_count(0)
