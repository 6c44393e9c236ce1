"""Webhooks and forge requests behind an egress proxy (RUNBOARD_OUTBOUND_PROXY), through a real HTTP proxy on
loopback: a webhook and a forge request go through it by name and arrive; what the policy refuses never reaches it;
a name that does not resolve here goes to the proxy (CONNECT by name, TLS end to end) only when the policy allows it
by name; without the setting nothing goes through a proxy (no proxy from the environment either)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.config import Settings
from app.services.notifications.sender import post
from app.services.notifications.store import Claimed
from app.services.notifications.webhook_targets import GuardedTransport, RequestRefused, policy_of
from tests.helpers.egress_proxy import egress_proxy
from tests.helpers.webhooks import receiver


def _policy(tmp_path, allowed: str, proxy: str | None):  # noqa: ANN001, ANN202
    return policy_of(Settings(data_dir=tmp_path, webhook_allowed_hosts=allowed, outbound_proxy=proxy))


def _claimed(url: str) -> Claimed:
    return Claimed('dlv_1', 'run.finished', 0, 0, '{"x": 1}', url, 'unused')


def test_a_webhook_goes_through_the_proxy_and_arrives(tmp_path) -> None:  # noqa: ANN001
    with egress_proxy() as proxy, receiver() as hooks:
        result = asyncio.run(post(_claimed(hooks.url), ['secret'], 10, _policy(tmp_path, 'loopback', proxy.url)))
        assert result.status_code == 200, result
        assert [r.headers['x-runboard-delivery'] for r in hooks.wait_for(1)] == ['dlv_1']
        assert proxy.seen == [f'POST {hooks.url}']  # by name, in absolute form: the proxy connected


def test_a_refused_webhook_never_reaches_the_proxy(tmp_path) -> None:  # noqa: ANN001
    with egress_proxy() as proxy, receiver() as hooks:
        result = asyncio.run(post(_claimed(hooks.url), ['secret'], 10, _policy(tmp_path, 'external', proxy.url)))
        assert result.status_code is None and 'loopback' in (result.error or ''), result
        assert proxy.seen == [] and hooks.requests == []


def test_a_forge_request_goes_through_the_proxy_and_is_checked_first(tmp_path) -> None:  # noqa: ANN001
    with egress_proxy() as proxy, receiver() as forge:
        allowed = httpx.Client(transport=GuardedTransport(_policy(tmp_path, 'loopback', proxy.url)))
        assert allowed.post(forge.url, json={'state': 'success'}).status_code == 200
        assert proxy.seen == [f'POST {forge.url}']
        refused = httpx.Client(transport=GuardedTransport(_policy(tmp_path, 'external', proxy.url)))
        with pytest.raises(RequestRefused):
            refused.post(forge.url, json={})
        assert len(proxy.seen) == 1 and len(forge.requests) == 1


def test_a_name_that_does_not_resolve_here_goes_to_the_proxy_only_when_allowed_by_name(tmp_path) -> None:  # noqa: ANN001
    url = 'https://forge.invalid/api/v1/repos'
    with egress_proxy() as proxy:
        by_name = httpx.Client(transport=GuardedTransport(_policy(tmp_path, 'external,*.invalid', proxy.url)))
        with pytest.raises(httpx.ProxyError):  # the proxy cannot resolve it either here: 502 to the CONNECT
            by_name.get(url)
        assert proxy.seen == ['CONNECT forge.invalid:443']  # by name: TLS checks forge.invalid's certificate
        unchecked = httpx.Client(transport=GuardedTransport(_policy(tmp_path, 'external', proxy.url)))
        with pytest.raises(RequestRefused, match='does not resolve here'):
            unchecked.get(url)
        assert proxy.seen == ['CONNECT forge.invalid:443']


def test_without_the_setting_nothing_goes_through_a_proxy(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    with egress_proxy() as proxy, receiver() as hooks:
        monkeypatch.setenv('HTTP_PROXY', proxy.url)  # the environment's proxy is not taken
        result = asyncio.run(post(_claimed(hooks.url), ['secret'], 10, _policy(tmp_path, 'loopback', None)))
        client = httpx.Client(transport=GuardedTransport(_policy(tmp_path, 'loopback', None)))
        assert result.status_code == 200 and client.post(hooks.url, json={}).status_code == 200
        assert proxy.seen == [] and len(hooks.wait_for(2)) == 2
