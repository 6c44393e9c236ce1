"""The Run form's limits: the 429 countdown banner (with the request's correlation id) and the quota
banner (amber when few runs are left, its reset in UTC; red when none), read again when a window resets."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import correlation_chip
from app.state import connection
from app.state.run_form import Failure, countdown_text, quota_banner, quota_stale


class RunLimits:
    def __init__(self) -> None:
        self.rate_limited_until: float | None = None  # monotonic deadline of a 429's Retry-After
        self.quota: dict[str, Any] | None = None
        self.quota_fetched = 0.0
        self.rate_box = ui.column().classes('w-full').props('aria-live=polite')
        self.quota_box = ui.column().classes('w-full').props('aria-live=polite')

    async def refresh_quota(self) -> None:
        try:
            self.quota = await connection.client().quota()
            self.quota_fetched = time.monotonic()
        except ApiError:
            self.quota = None

    def rate_limited(self, retry_after_seconds: int) -> None:
        self.rate_limited_until = time.monotonic() + retry_after_seconds

    def rate_seconds_left(self) -> int:
        if self.rate_limited_until is None:
            return 0
        return max(0, int(-(-(self.rate_limited_until - time.monotonic()) // 1)))

    def block_reason(self) -> str | None:
        left = self.rate_seconds_left()
        if left > 0:
            return f'Run is disabled: run limit reached, available again in {countdown_text(left)}.'
        banner = quota_banner(self.quota, datetime.now(UTC))
        if banner and banner.blocks_run:
            return f'Run is disabled: quota exhausted, next window opens in {countdown_text(banner.seconds_left)}.'
        return None

    def tick_action(self) -> Literal['refresh', 'render'] | None:
        """Each second: ask the server again once a limit has run out, or redraw a running countdown."""
        if self.rate_limited_until is not None and self.rate_seconds_left() <= 0:
            self.rate_limited_until = None
            return 'refresh'
        now = datetime.now(UTC)
        if quota_stale(self.quota, now, time.monotonic() - self.quota_fetched):  # amber or red: the window reset
            return 'refresh'
        banner = quota_banner(self.quota, now)
        if self.rate_limited_until is not None or (banner and banner.level == 'red'):
            return 'render'
        return None

    def render(self, failure: Failure | None) -> None:
        self.rate_box.clear()
        left = self.rate_seconds_left()
        if left > 0 and failure is not None:
            with (
                self.rate_box,
                ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert data-testid=rate-banner'),
            ):
                with ui.row().classes('items-center gap-2 flex-wrap'):
                    ui.icon('hourglass_top')
                    ui.label(f'Run limit reached — you can start a run again in {countdown_text(left)}.').props(
                        'data-testid=rate-countdown'
                    )
                    correlation_chip(failure.correlation_id, 'HTTP 429')
        self.quota_box.clear()
        banner = quota_banner(self.quota, datetime.now(UTC))
        if banner and left <= 0:
            with (
                self.quota_box,
                attrs(
                    ui.element('div').classes(f'w-full rb-banner rb-banner-{banner.level}').props('role=status'),
                    {'data-testid': f'quota-{banner.level}'},
                ),
            ):
                with ui.row().classes('items-center gap-2'):
                    ui.icon('warning' if banner.level == 'amber' else 'block')
                    ui.label(banner.text)
