"""Where a webhook may be sent (server-side request forgery): the pure decision, address + policy -> allowed or
the reason, as a table; how RUNBOARD_WEBHOOK_ALLOWED_HOSTS reads; and the connection an attempt makes (to the
checked address, the name kept in the Host header and TLS), with a resolver the test controls."""

from __future__ import annotations

import ipaddress

import pytest

from app.services.notifications import webhook_targets
from app.services.notifications.webhook_policy import address_refusal, category, parse_policy
from app.services.notifications.webhook_targets import TargetRefused, checked_target, refusal_now

TEAM = parse_policy('', team_mode=True)  # the team default: external addresses only
LOCAL = parse_policy('', team_mode=False)  # the local default: external, private and loopback
PUBLIC = '93.184.215.14'


@pytest.mark.parametrize(
    ('host', 'address', 'policy', 'refused_because'),
    [
        # team mode, by default: public addresses only
        ('hooks.example.com', PUBLIC, TEAM, None),
        ('hooks.example.com', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', TEAM, None),
        ('127.0.0.1', '127.0.0.1', TEAM, '127.0.0.1 is a loopback address'),
        ('localhost', '127.0.0.1', TEAM, 'localhost resolves to 127.0.0.1, a loopback address'),
        ('::1', '::1', TEAM, 'loopback'),
        ('0.0.0.0', '0.0.0.0', TEAM, 'an unspecified address'),  # Linux connects it to the loopback
        ('::', '::', TEAM, 'unspecified'),
        ('10.1.2.3', '10.1.2.3', TEAM, 'a private address'),
        ('172.16.0.9', '172.16.0.9', TEAM, 'private'),
        ('192.168.1.1', '192.168.1.1', TEAM, 'private'),
        ('100.64.0.7', '100.64.0.7', TEAM, 'private'),  # shared address space (carrier NAT, VPN meshes)
        ('fd00::5', 'fd00::5', TEAM, 'private'),
        ('169.254.169.254', '169.254.169.254', TEAM, 'a link-local address'),  # cloud metadata
        ('fe80::1', 'fe80::1', TEAM, 'link-local'),
        ('224.0.0.1', '224.0.0.1', TEAM, 'a multicast address'),
        ('ff02::1', 'ff02::1', TEAM, 'multicast'),
        ('240.0.0.1', '240.0.0.1', TEAM, 'a reserved address'),
        ('255.255.255.255', '255.255.255.255', TEAM, 'reserved'),
        ('192.0.2.1', '192.0.2.1', TEAM, 'reserved'),  # documentation addresses are no receiver's
        # an IPv4 address carried in IPv6 is judged as the IPv4 address it reaches
        ('::ffff:127.0.0.1', '::ffff:127.0.0.1', TEAM, 'loopback'),
        ('64:ff9b::7f00:1', '64:ff9b::7f00:1', TEAM, 'loopback'),  # NAT64
        ('2002:a00:1::1', '2002:a00:1::1', TEAM, 'private'),  # 6to4 of 10.0.0.1
        # local mode: a person's own listener and their network
        ('127.0.0.1', '127.0.0.1', LOCAL, None),
        ('localhost', '::1', LOCAL, None),
        ('10.1.2.3', '10.1.2.3', LOCAL, None),
        ('hooks.example.com', PUBLIC, LOCAL, None),
        ('169.254.169.254', '169.254.169.254', LOCAL, 'link-local'),
        # what a deployment opens
        ('127.0.0.1', '127.0.0.1', parse_policy('loopback', team_mode=True), None),
        ('hooks.example.com', PUBLIC, parse_policy('loopback', team_mode=True), 'an external address'),
        ('10.1.2.3', '10.1.2.3', parse_policy('external,private', team_mode=True), None),
        ('10.1.2.3', '10.1.2.3', parse_policy('10.1.2.0/24', team_mode=True), None),
        ('10.1.3.3', '10.1.3.3', parse_policy('10.1.2.0/24', team_mode=True), 'private'),
        ('fd00::5', 'fd00::5', parse_policy('[fd00::5]', team_mode=True), None),
        ('169.254.169.254', '169.254.169.254', parse_policy('*', team_mode=True), None),
        ('ci.internal', '10.9.9.9', parse_policy('external, CI.internal', team_mode=True), None),
        ('a.hooks.internal', '10.9.9.9', parse_policy('*.hooks.internal', team_mode=True), None),
        ('hooks.internal', '10.9.9.9', parse_policy('*.hooks.internal', team_mode=True), 'private'),
        ('evil.example', '10.9.9.9', parse_policy('*.hooks.internal', team_mode=True), 'private'),
    ],
)
def test_address_refusal(host: str, address: str, policy, refused_because: str | None) -> None:  # noqa: ANN001
    reason = address_refusal(host, ipaddress.ip_address(address), policy)
    if refused_because is None:
        assert reason is None, reason
    else:
        assert reason is not None and refused_because in reason, reason
        assert 'RUNBOARD_WEBHOOK_ALLOWED_HOSTS' in reason  # the setting that opens it


def test_the_categories_partition_what_addresses_are() -> None:
    assert category(ipaddress.ip_address('8.8.8.8')) == 'external'
    assert category(ipaddress.ip_address('127.8.9.1')) == 'loopback'  # all of 127/8
    assert category(ipaddress.ip_address('0.1.2.3')) == 'reserved'  # "this network", not a receiver


@pytest.mark.parametrize('odd', ['2130706433', '0x7f.1', '017700000001', '127.1', '0x7f000001'])
def test_odd_ipv4_forms_are_read_as_the_system_reads_them(odd: str) -> None:
    """The address is what getaddrinfo makes of the host (as the HTTP client connects), not a parse of our own."""
    reason = refusal_now(f'http://{odd}:8080/hook', TEAM)
    assert reason is not None and '127.0.0.1, a loopback address' in reason, reason


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A resolver the test controls: names in the dict answer its addresses, others resolve as usual."""
    answers: dict[str, list[str]] = {}
    real = webhook_targets.resolve
    monkeypatch.setattr(webhook_targets, 'resolve', lambda host, port: answers.get(host) or real(host, port))
    return answers


def test_an_attempt_connects_to_the_checked_address_with_the_name_in_host_and_tls(dns) -> None:  # noqa: ANN001
    dns['hooks.example.test'] = [PUBLIC]
    target = checked_target('https://hooks.example.test/services/T0?x=1', TEAM)
    assert target.urls == (f'https://{PUBLIC}/services/T0?x=1',)  # no second lookup when it connects
    assert target.host_header == 'hooks.example.test'
    assert target.extensions == {'sni_hostname': 'hooks.example.test'}  # the certificate is checked for the name
    dns['hooks.example.test'] = ['2606:2800:21f:cb07:6820:80da:af6b:8b2c']
    plain = checked_target('http://hooks.example.test:8080/x', TEAM)
    assert plain.urls == ('http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8080/x',)
    assert plain.host_header == 'hooks.example.test:8080' and plain.extensions == {}


def test_a_name_answering_one_public_and_one_private_address_is_refused(dns) -> None:  # noqa: ANN001
    dns['mixed.example.test'] = [PUBLIC, '10.0.0.1']
    with pytest.raises(TargetRefused, match='mixed.example.test resolves to 10.0.0.1, a private address'):
        checked_target('http://mixed.example.test/x', TEAM)
    assert 'private' in (refusal_now('http://mixed.example.test/x', TEAM) or '')


def test_a_name_that_does_not_resolve_now_passes_the_create_check(dns) -> None:  # noqa: ANN001
    assert refusal_now('https://nothing.invalid/hook', TEAM) is None  # every attempt checks again
    with pytest.raises(OSError):
        checked_target('https://nothing.invalid/hook', TEAM)
