"""UI latency and memory, measured in real Chromium (prints figures; asserts nothing).

    python bench/ui.py [--rounds 10] [--tabs 20]

Stack as in the E2E tests: API server (python main.py, global cap 0 so runs stay queued) <- pass-through
proxy (timestamps each relayed answer) <- UI process (python main.py --server PROXY) <- Chromium.
  1. click Run -> `Submitting…` row painted (and the same word beside Run, drawn by the same attribute in the
     same frame: assets/runboard.css). The click is a real one (Playwright's mouse, a trusted event), and
     the figure is the browser's own Event Timing entry for the `click` event: from the input to the next
     frame painted after its handlers ran, the row's among them (rounded by the browser to 8 ms; INP is
     measured the same way; the browser reports no entry under 16 ms, which is counted as 16). Also printed:
     the same click to a requestAnimationFrame callback's setTimeout after the row appeared (the method up to
     2026-11-24: the timeout waits behind tasks already queued, such as the history charts being drawn, so it
     also counts work after the paint)
  2. click Run -> run timeline header visible, and -> its first line of output (the run's `queued` event) shown,
     both on the browser clock (the output line to its painted frame, as in 1.); and the POST /runs answer
     relayed to the UI process -> timeline header visible
  3. a run stopped through the API -> its row shows `stopped` on an open dashboard (no reload)
  4. UI server RSS before/after opening N tabs of the project page (MB per tab)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.helpers.e2e import CHROMIUM_ARGS, stack  # noqa: E402

WATCH_OPTIMISTIC = """() => { window.__rb = {}; new MutationObserver((_, obs) => {
  const row = document.querySelector('[data-optimistic]');
  if (row && row.checkVisibility()) { obs.disconnect(); requestAnimationFrame(() => setTimeout(() => {
    window.__rb.seen = performance.now(); })); }
}).observe(document.body, {subtree: true, childList: true, attributes: true});
document.addEventListener('click', (e) => { window.__rb.clicked ??= e.timeStamp; }, {capture: true});
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.name === 'click') window.__rb.painted = e.duration;
}).observe({type: 'event', durationThreshold: 16, buffered: true}); }"""
WATCH_TIMELINE = """() => { window.__rb = {}; new MutationObserver((_, obs) => {
  if (window.__rb.header === undefined && document.querySelector('[data-testid=run-header] [data-status]'))
    window.__rb.header = performance.now();
  if (document.querySelector('[data-testid=output] .rb-line')) { obs.disconnect();
    requestAnimationFrame(() => setTimeout(() => { window.__rb.output = performance.now(); }));
  }
}).observe(document.body, {subtree: true, childList: true, attributes: true}); }"""
CLICK = """() => { window.__rb.clicked = performance.now(); document.querySelector('[data-testid=run]').click(); }"""
WATCH_STATUS = """(runId) => { window.__rb = {}; new MutationObserver((_, obs) => {
  const row = document.querySelector(`[data-run="${runId}"]`);
  if (row && row.dataset.status === 'stopped') { window.__rb.at = Date.now(); obs.disconnect(); }
}).observe(document.body, {subtree: true, childList: true, attributes: true}); }"""


def rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def summary(name: str, values: list[float]) -> None:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    print(
        f'{name:<48} median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms   max {ordered[-1]:7.1f} ms'
        f'   (n={len(values)})'
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--tabs', type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        stack(Path(tmp), RUNBOARD_GLOBAL_RUN_CAP='0', RUNBOARD_RATE_LIMIT_RUNS='100000') as env,
        sync_playwright() as playwright,
    ):
        env.create_project('alpha', max_concurrent_runs=1000)
        browser = playwright.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={'width': 1200, 'height': 900}).new_page()
        page.set_default_timeout(30_000)
        click_to_row, click_to_row_timeout, answer_to_timeline, change_to_row = [], [], [], []
        click_to_header, click_to_output = [], []
        for _ in range(args.rounds + 1):  # the first round warms up and is not counted
            env.stop_active()
            env.proxy.clear()
            page.goto(f'{env.ui_url}/projects/alpha')
            page.wait_for_selector('[data-testid=runs][data-loaded=true]')
            page.evaluate(WATCH_TIMELINE)
            page.evaluate(CLICK)
            page.wait_for_url('**/runs/run_*')
            page.wait_for_selector('[data-testid=run-header] [data-status]')
            shown = time.time()
            replies = [s.replied_at for s in env.proxy.requests('POST', '/api/runs') if s.replied_at]
            if replies:
                answer_to_timeline.append((shown - replies[-1]) * 1000)
            page.wait_for_selector('[data-testid=output] .rb-line')
            page.wait_for_function('() => !window.__rb || !window.__rb.header || window.__rb.output !== undefined')
            marks = page.evaluate('() => window.__rb || {}')
            if 'header' in marks:  # absent when the timeline came by a page load (the marks went with the page)
                click_to_header.append(marks['header'] - marks['clicked'])
                click_to_output.append(marks['output'] - marks['clicked'])
        answer_to_timeline, click_to_header = answer_to_timeline[1:], click_to_header[1:]
        click_to_output = click_to_output[1:]
        # click -> optimistic row: measured without navigating away (a slow answer keeps the form on screen)
        for _ in range(args.rounds):
            env.stop_active()
            env.proxy.clear()
            env.proxy.add_rule('POST', '/api/runs', 'delay', seconds=0.5)
            page.goto(f'{env.ui_url}/projects/alpha')
            page.wait_for_selector('[data-testid=runs][data-loaded=true]')
            page.evaluate(WATCH_OPTIMISTIC)
            page.click('[data-testid=run]')
            page.wait_for_function('() => window.__rb.seen !== undefined')
            page.wait_for_timeout(200)  # the Event Timing entry follows the frame
            marks = page.evaluate('() => window.__rb')
            click_to_row.append(marks.get('painted', 16))
            click_to_row_timeout.append(marks['seen'] - marks['clicked'])
            page.wait_for_url('**/runs/run_*')
        env.proxy.clear()
        page.goto(f'{env.ui_url}/')
        page.wait_for_selector('[data-testid=runs][data-live=true]')
        for _ in range(args.rounds):
            env.stop_active()
            run = env.trigger('alpha', 'main').json()
            page.wait_for_selector(f'[data-run="{run["id"]}"][data-status=queued]')
            page.evaluate(WATCH_STATUS, run['id'])
            with env.api() as api:
                started = time.time()
                api.post(f'/api/runs/{run["id"]}/stop')
            page.wait_for_function('() => window.__rb.at !== undefined')
            change_to_row.append(page.evaluate('() => window.__rb.at') - started * 1000)
        page.context.close()

        print(f'Runboard UI bench: {args.rounds} rounds, Chromium {browser.version}')
        summary('click -> optimistic row painted (Event Timing)', click_to_row)
        summary('click -> optimistic row, to a rAF + setTimeout', click_to_row_timeout)
        summary('server answer -> timeline shown', answer_to_timeline)
        if click_to_header:
            summary('click -> timeline header shown', click_to_header)
            summary('click -> timeline with its first output line', click_to_output)
        summary('server-side change -> row updated in browser', change_to_row)

        ui_pid = env.ui_pid
        context = browser.new_context(viewport={'width': 1200, 'height': 900})
        warm = context.new_page()
        warm.goto(f'{env.ui_url}/projects/alpha')
        warm.wait_for_selector('[data-testid=runs][data-loaded=true]')
        warm.close()
        time.sleep(1)
        before = rss_mb(ui_pid)
        tabs = []
        for _ in range(args.tabs):
            tab = context.new_page()
            tab.goto(f'{env.ui_url}/projects/alpha')
            tab.wait_for_selector('[data-testid=runs][data-loaded=true]')
            tabs.append(tab)
        time.sleep(2)
        after = rss_mb(ui_pid)
        print(
            f'UI server RSS: {before:.1f} MB before, {after:.1f} MB with {args.tabs} project-page tabs open '
            f'-> {(after - before) / args.tabs:.2f} MB per open tab'
        )
        context.close()
        browser.close()


if __name__ == '__main__':
    main()
