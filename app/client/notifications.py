"""The notifications part of the API client: a project's webhook rules, their delivery log, Redeliver, Test."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def _id(value: str) -> str:
    return quote(value, safe='')


class NotificationsApi:
    async def request(  # RunboardClient's
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None, headers: Any = None
    ) -> Any:
        raise NotImplementedError

    def _rules(self, project_id: str) -> str:
        return f'/projects/{_id(project_id)}/notifications'

    async def notification_rules(self, project_id: str) -> list[dict]:
        return (await self.request('GET', self._rules(project_id))).data

    async def notification_rule(self, project_id: str, rule_id: str) -> dict:
        return (await self.request('GET', f'{self._rules(project_id)}/{_id(rule_id)}')).data

    async def add_notification_rule(self, project_id: str, body: dict) -> dict:
        """Operators. The answer's `secret` is shown this once."""
        return (await self.request('POST', self._rules(project_id), json_body=body)).data

    async def update_notification_rule(self, project_id: str, rule_id: str, body: dict) -> dict:
        return (await self.request('PATCH', f'{self._rules(project_id)}/{_id(rule_id)}', json_body=body)).data

    async def remove_notification_rule(self, project_id: str, rule_id: str) -> None:
        await self.request('DELETE', f'{self._rules(project_id)}/{_id(rule_id)}')

    async def new_notification_secret(self, project_id: str, rule_id: str) -> dict:
        """Operators. Replaces the rule's signing secret; the answer's `secret` is shown this once."""
        return (await self.request('POST', f'{self._rules(project_id)}/{_id(rule_id)}/secret')).data

    async def test_notification_rule(self, project_id: str, rule_id: str) -> dict:
        """Send a `ping` now; the answer is its delivery with that attempt."""
        return (await self.request('POST', f'{self._rules(project_id)}/{_id(rule_id)}/test')).data

    async def deliveries(
        self,
        project_id: str,
        *,
        rule: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict:
        """{'items': [...newest first, each with its attempt_log], 'next_cursor': ...}"""
        params = {k: v for k, v in {'rule': rule, 'status': status, 'cursor': cursor}.items() if v}
        path = f'/projects/{_id(project_id)}/deliveries'
        return (await self.request('GET', path, params={**params, 'limit': limit})).data

    async def delivery(self, delivery_id: str) -> dict:
        return (await self.request('GET', f'/deliveries/{_id(delivery_id)}')).data

    async def redeliver(self, delivery_id: str) -> dict:
        """Send it again now (same id and body); the answer carries that attempt."""
        return (await self.request('POST', f'/deliveries/{_id(delivery_id)}/redeliver')).data

    async def redeliver_gave_up(
        self, project_id: str, rule_id: str, *, since: str | None = None, dry_run: bool = False
    ) -> dict:
        """Operators: queue again the rule's deliveries that gave up since `since` (default: the last 24 hours);
        {'queued': N, 'skipped': M, 'skipped_by_reason': {...}, 'since': ..., ...}. `dry_run`: only count."""
        body: dict[str, Any] = {'dry_run': dry_run}
        if since:
            body['since'] = since
        path = f'{self._rules(project_id)}/{_id(rule_id)}/redeliver-gave-up'
        return (await self.request('POST', path, json_body=body)).data
