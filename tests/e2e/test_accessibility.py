"""axe-core (WCAG 2.1 A and AA) over every page a person opens, in light and dark mode, on a desktop and on a
390 px phone: no serious or critical violation anywhere (issue 42). The pages hold what they show in use: a
failed run with stages and annotations, a running one, a matrix batch, a schedule, a webhook, a project that
runs on labelled workers; and the sign-in page of a UI that asks who is there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.helpers.axe import Violation, axe_violations, by_rule
from tests.helpers.e2e import BRANCHES, HEADER_CUT, Stack, gates_dir, stack
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

FAILING = (
    'echo "::stage::install"\n'
    'echo "installing"\n'
    'echo "::warning file=app.py,line=3::deprecated call"\n'
    'echo "::stage::test"\n'
    'printf "\\033[31mFAILED\\033[0m tests/test_app.py::test_login\\n"\n'
    'echo "::error file=tests/test_app.py,line=12,title=Assertion::expected 200, got 500"\n'
    'exit 1\n'
)
MODES = [  # (name, colour scheme, viewport)
    ('light desktop', 'light', {'width': 1200, 'height': 900}),
    ('dark desktop', 'dark', {'width': 1200, 'height': 900}),
    ('light 390px', 'light', {'width': 390, 'height': 844}),
    ('dark 390px', 'dark', {'width': 390, 'height': 844}),
]


def _waiting_run_sh(gates: Path) -> str:
    return f'echo "::stage::build"\necho "waiting for the gate"\nwhile [ ! -e {gates}/open ]; do sleep 0.2; done\n'


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The stack with every kind of page filled; the paths to check, each with what shows it is drawn."""
    base = tmp_path_factory.mktemp('a11y')
    branches = {**BRANCHES, 'main': {'run.sh': FAILING}, 'feature/slow': {'run.sh': _waiting_run_sh(gates_dir(base))}}
    with stack(base, branches) as env:
        env.create_project('alpha', max_concurrent_runs=10)
        env.create_project('beta', max_concurrent_runs=10)
        env.create_project('gamma', runs_on=['linux'])  # its page names the labels its runs need (chips)
        failed = env.trigger('alpha', 'main').json()
        running = env.trigger('beta', 'feature/slow').json()
        with env.api() as api:
            matrix = {'depth_level': ['shallow'], 'target_framework': ['python', 'node']}
            reply = api.post(
                '/api/runs/batch',
                json={'project_id': 'beta', 'branch': 'main', 'matrix': matrix},
                headers={'Idempotency-Key': 'a11y-batch'},
            )
            assert reply.status_code in (200, 201), reply.text
            batch = reply.json()
            schedule = {'name': 'Nightly', 'cron': '0 3 * * *', 'branch': 'main'}
            schedule |= {'depth_level': 'shallow', 'target_framework': 'python'}
            assert api.post('/api/projects/alpha/schedules', json=schedule).status_code == 201
            rule = {'name': 'CI alerts', 'url': 'http://127.0.0.1:9/hook'}
            assert api.post('/api/projects/alpha/notifications', json=rule).status_code == 201
        pages = {
            '/': '[data-testid=runs][data-live=true]',
            '/projects/alpha': '[data-testid=runs][data-live=true]',
            '/projects/gamma': '[data-testid=runs-on]',
            f'/runs/{failed["id"]}': '[data-testid=run-header] [data-status=failed]',
            f'/runs/{running["id"]}': '[data-testid=run-header] [data-status=running]',
            f'/batches/{batch["id"]}': '[data-testid=matrix-grid]',
            '/workers': '[data-testid=workers]',
            '/audit': '[data-testid=audit] [data-action]',
            '/settings': '[data-testid=settings-projects]',
            '/settings/tokens': '[data-testid=people]',
            '/projects/alpha/schedules': '[data-testid=schedules]',
            '/projects/alpha/notifications': '[data-testid=rules]',
            '/projects/alpha/settings': '[data-testid=danger-zone]',
            '/projects/new': '[data-testid=create-project]',
            '/plain': 'h1',
            '/runs/run_00000000000000000000000000': '[data-testid=not-found]',  # a link to a run that is not there
        }
        # the run pages show their output: the failed run has ended, the other is running its stage
        with env.api() as api:
            for run_id, status in ((failed['id'], 'failed'), (running['id'], 'running')):
                _wait_status(api, run_id, status)
        yield env, pages
        (gates_dir(base) / 'open').touch()
        env.stop_active()


def _wait_status(api, run_id: str, status: str) -> None:  # noqa: ANN001
    import time

    deadline = time.monotonic() + 30
    while api.get(f'/api/runs/{run_id}').json()['status'] != status:
        assert time.monotonic() < deadline, f'{run_id} never {status}'
        time.sleep(0.2)


def check_pages(
    browser: Browser, base_url: str, pages: dict[str, str], header_cuts: list[str] | None = None
) -> list[Violation]:
    """axe's findings on every page in every mode; what each page's header cuts goes to `header_cuts`."""
    found: list[Violation] = []
    for mode, scheme, viewport in MODES:
        context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
        context.set_default_timeout(20_000)
        page = context.new_page()
        try:
            for path, ready in pages.items():
                page.goto(base_url + path)
                expect(page.locator(ready).first).to_be_attached()
                page.evaluate('document.fonts.ready.then(() => true)')  # contrast is measured on the final glyphs
                if path != '/plain':  # the server-rendered page has no Quasar: it follows the scheme in CSS
                    assert page.evaluate("document.body.classList.contains('body--dark')") == (scheme == 'dark')
                found += axe_violations(page, f'{path} {mode}')
                if header_cuts is not None and path != '/plain':
                    header_cuts += [f'{path} {mode}: {cut}' for cut in page.evaluate(HEADER_CUT)]
                    # the header names the page where it has room; on a phone the page's heading alone does
                    name = page.get_by_test_id('page-name')
                    expect(name).to_be_visible() if viewport['width'] >= 768 else expect(name).to_be_hidden()
        finally:
            context.close()
    return found


def test_no_page_has_a_serious_or_critical_violation_in_either_theme_or_width(browser: Browser, env) -> None:  # noqa: ANN001
    stack_, pages = env
    header_cuts: list[str] = []
    found = check_pages(browser, stack_.ui_url, pages, header_cuts)
    print(f'\naxe-core serious/critical by rule: {by_rule(found)}')
    assert not found, f'{len(found)} violations ({by_rule(found)}):\n' + '\n'.join(v.line() for v in found)
    # on a 390 px phone the header shows its page name whole or not at all (the page's heading names it)
    assert not header_cuts, '\n'.join(header_cuts)


def test_the_sign_in_page_has_no_serious_or_critical_violation(browser: Browser, env, tmp_path: Path) -> None:  # noqa: ANN001
    """A UI given no token asks each browser for one (/login): the page a person meets first."""
    stack_, _pages = env
    with app_process(tmp_path / 'ui', args=['--server', stack_.api_url], ready_path='/login') as ui:
        found = check_pages(browser, ui['url'], {'/login': '[data-testid=token-input]'})
    print(f'\naxe-core serious/critical by rule: {by_rule(found)}')
    assert not found, f'{len(found)} violations ({by_rule(found)}):\n' + '\n'.join(v.line() for v in found)


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_menus_and_dialogs_have_no_serious_or_critical_violation(browser: Browser, env, scheme: str) -> None:  # noqa: ANN001
    """What opens over a page: a card's ⋯ menu, its Backlog dialog, and the confirmation a Stop asks for."""
    stack_, _pages = env
    context = browser.new_context(viewport={'width': 1200, 'height': 900}, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    found: list[Violation] = []
    try:
        page.goto(stack_.ui_url + '/')
        card = page.locator('[data-project=alpha]')
        card.get_by_role('button', name='Project actions').click()
        expect(page.get_by_role('menu')).to_be_visible()
        found += axe_violations(page, f'/ {scheme} with the ⋯ menu open')
        page.keyboard.press('Escape')
        expect(page.get_by_role('menu')).to_be_hidden()

        card.get_by_role('button', name='Backlog').click()
        backlog = page.locator('[data-backlog=alpha]')
        expect(backlog).to_be_visible()
        found += axe_violations(page, f'/ {scheme} with the Backlog dialog open')
        backlog.get_by_role('button', name='Close').click()
        expect(backlog).to_be_hidden()

        page.get_by_role('button', name='Stop run').first.click()  # the running run's row: asks first
        confirmation = page.get_by_role('alertdialog')
        expect(confirmation).to_be_visible()
        found += axe_violations(page, f'/ {scheme} with a Stop confirmation open')
        confirmation.get_by_role('button', name='Cancel').click()
        expect(confirmation).to_be_hidden()
    finally:
        context.close()
    print(f'\naxe-core serious/critical by rule: {by_rule(found)}')
    assert not found, '\n'.join(v.line() for v in found)
