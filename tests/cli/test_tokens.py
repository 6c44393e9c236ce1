"""Tokens from the CLI: operators revoke their teams' tokens, everyone lists, creates and revokes their own; a
revoked token answers 401 on every instance within a second (the revocation travels over the event bus; no TTL to
wait out), and its open event stream ends."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from app.models import Role
from app.services.identity.accounts import create_user, ensure_team
from tests.helpers.api import add_user
from tests.helpers.cli import run_cli
from tests.helpers.servers import api_server


def _status_within(url: str, token: str, expected: int, seconds: float) -> float:
    """Poll GET /me until it answers `expected`; return how long that took (fails past `seconds`)."""
    started = time.monotonic()
    while True:
        status = httpx.get(url + '/api/me', headers={'Authorization': f'Bearer {token}'}, timeout=5).status_code
        elapsed = time.monotonic() - started
        if status == expected:
            return elapsed
        assert elapsed < seconds, f'still {status} after {seconds} s'
        time.sleep(0.02)


def test_revoked_token_fails_on_every_instance_at_once(settings_factory, backend: str) -> None:  # noqa: ANN001
    """Team mode: two instances on one database and Redis. Local mode is one process by design (SQLite,
    in-process bus), so there the 'second' instance is the same server."""
    first_settings = settings_factory()
    second_settings = settings_factory(database_url=first_settings.effective_database_url)
    with api_server(first_settings) as first, api_server(second_settings) as other_instance:
        second = other_instance if backend == 'team' else first
        operator = add_user(first, role=Role.operator, name='olga')
        builder = add_user(first, role=Role.builder, name='bob')
        for server in (first, second):  # both instances have bob's token cached now
            assert (
                httpx.get(server.base_url + '/api/me', headers={'Authorization': f'Bearer {builder}'}).status_code
                == 200
            )

        listed = run_cli(first.base_url, operator, 'tokens', 'list', '--json')
        assert listed.code == 0, listed.stderr
        bob_tokens = [t['id'] for t in json.loads(listed.stdout) if t['user_name'] == 'bob']
        assert len(bob_tokens) == 1
        own = run_cli(first.base_url, builder, 'tokens', 'list', '--json')  # a builder: their own only
        assert own.code == 0 and [t['id'] for t in json.loads(own.stdout)] == bob_tokens
        # in a narrow terminal the ids stay whole (revoke takes one), with each token's last use
        table = run_cli(first.base_url, operator, 'tokens', 'list', columns=60)
        bob_row = next(line for line in table.stdout.splitlines() if bob_tokens[0] in line)
        assert re.search(r'\d{4}-\d\d-\d\d \d\d:\d\d\s*$', bob_row), table.stdout  # bob's /api/me just now

        with httpx.stream(
            'GET', second.base_url + '/api/events', headers={'Authorization': f'Bearer {builder}'}, timeout=10
        ) as stream:
            lines = stream.iter_lines()
            assert next(lines) == ': connected'
            revoked = run_cli(first.base_url, operator, 'tokens', 'revoke', bob_tokens[0])
            assert revoked.code == 0 and bob_tokens[0] in revoked.stdout
            for server in (first, second):
                _status_within(server.base_url, builder, 401, seconds=1.0)
            assert list(lines) in ([], [''])  # the stream of the revoked token ended

        # revoking by person: every token of theirs, through the same path
        other = add_user(first, role=Role.builder, name='bea')
        _status_within(second.base_url, other, 200, seconds=1.0)
        by_name = run_cli(second.base_url, operator, 'users', 'revoke', 'bea')
        assert by_name.code == 0 and 'Revoked 1 token' in by_name.stdout
        _status_within(first.base_url, other, 401, seconds=1.0)
        assert run_cli(first.base_url, operator, 'users', 'revoke', 'nobody').code == 4


@pytest.mark.parametrize('backend', ['local'])
def test_revoking_by_name_says_whose_tokens_went_and_who_was_left_alone(settings_factory) -> None:  # noqa: ANN001
    """`runboard users revoke sam` with two sams in the operator's team, one also in another team: the one they
    manage loses their tokens, and the other is named as left alone, with the reason; with two sams they manage,
    nothing is revoked and the answer says how to pick one (a 409: exit code 3)."""
    with api_server(settings_factory()) as server:
        engine = server.services.engine
        ensure_team(engine, 'b', 'B')
        create_user(engine, name='sam', role=Role.builder, team_ids=['local'])
        theirs, _ = create_user(engine, name='sam', role=Role.builder, team_ids=['local', 'b'])
        operator = add_user(server, role=Role.operator, name='olga')

        done = run_cli(server.base_url, operator, 'users', 'revoke', 'sam')
        assert done.code == 0, done.stderr
        assert 'Revoked 1 token(s) of sam: tok_' in done.stdout
        assert f'Left alone: sam ({theirs.id}), also in a team you are not in' in done.stdout

        create_user(engine, name='sam', role=Role.builder, team_ids=['local'])
        ambiguous = run_cli(server.base_url, operator, 'users', 'revoke', 'sam')
        assert ambiguous.code == 3, ambiguous.stdout
        assert '2 people named sam' in ambiguous.stderr and 'runboard tokens revoke' in ambiguous.stderr


@pytest.mark.parametrize('backend', ['local'])
def test_a_builder_lists_creates_and_revokes_their_own_tokens(settings_factory) -> None:  # noqa: ANN001
    """`runboard tokens create NAME` prints the new token once (`--json`: the API's answer); `tokens list` and
    `tokens revoke` work on a builder's own tokens; anyone else's is refused with the problem's code (exit 4)."""
    with api_server(settings_factory()) as server:
        builder = add_user(server, role=Role.builder, name='bob')
        operator = add_user(server, role=Role.operator, name='olga')

        made = run_cli(server.base_url, builder, 'tokens', 'create', 'ci')
        assert made.code == 0, made.stderr
        secret = re.search(r'rb_\S+', made.stdout)
        assert secret and 'shown once' in made.stdout and 'bob' in made.stdout
        as_json = run_cli(server.base_url, builder, 'tokens', 'create', 'laptop', '--json')
        assert as_json.code == 0, as_json.stderr
        laptop = json.loads(as_json.stdout)
        assert laptop['name'] == 'laptop' and laptop['user_name'] == 'bob' and laptop['token'].startswith('rb_')
        with server.client(secret.group(0)) as ci:
            assert ci.get('/api/me').json()['role'] == 'builder'  # it acts as bob, a builder

        listed = run_cli(server.base_url, builder, 'tokens', 'list', '--json')
        assert listed.code == 0, listed.stderr
        mine = {t['name']: t['id'] for t in json.loads(listed.stdout)}
        assert set(mine) == {'default', 'ci', 'laptop'}
        table = run_cli(server.base_url, builder, 'tokens', 'list')
        assert 'laptop' in table.stdout and 'olga' not in table.stdout  # names tell one's tokens apart

        revoked = run_cli(server.base_url, builder, 'tokens', 'revoke', mine['ci'])
        assert revoked.code == 0 and mine['ci'] in revoked.stdout
        with server.client(secret.group(0)) as ci:
            assert ci.get('/api/me').status_code == 401

        olgas = next(
            t['id']
            for t in json.loads(run_cli(server.base_url, operator, 'tokens', 'list', '--json').stdout)
            if t['user_name'] == 'olga'
        )
        refused = run_cli(server.base_url, builder, 'tokens', 'revoke', olgas, '--json')
        assert refused.code == 4
        problem = json.loads(refused.stdout)
        assert (problem['status'], problem['error'], problem['reason']) == (403, 'forbidden', 'not_yours')
        assert problem['correlation_id']
        assert run_cli(server.base_url, builder, 'users', 'revoke', 'bob').code == 4  # by name: operators only
        taken = run_cli(server.base_url, builder, 'tokens', 'create', 'laptop')
        assert taken.code == 3 and 'already has a token named' in taken.stderr
        bob_id = laptop['user_id']
        olga_id = next(
            t['user_id']
            for t in json.loads(run_cli(server.base_url, operator, 'tokens', 'list', '--json').stdout)
            if t['user_name'] == 'olga'
        )
        refused = run_cli(server.base_url, builder, 'tokens', 'create', 'x', '--user', olga_id)
        assert refused.code == 4 and 'forbidden' in refused.stderr
        spare = run_cli(server.base_url, operator, 'tokens', 'create', 'spare', '--user', bob_id, '--json')
        assert spare.code == 0 and json.loads(spare.stdout)['user_name'] == 'bob'  # an operator, for someone
