"""The token cache and revocations: a revocation that reaches this instance while a load of the same token is under
way is not undone by that load; the next request asks again and is refused (docs/team.md: 401 at once)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Engine

from app.services.identity.accounts import Principal, TokenAuthenticator, hash_token

TOKEN = 'rb_the-token'
ANN = Principal('usr_ann', 'ann', 'operator', frozenset({'local'}), 'tok_1')


class FakeDatabase(TokenAuthenticator):
    """Loads from a dict; `revoke_while_loading` deletes the token and delivers its revocation event in the middle
    of the next load, after the row was read (the interleaving a thread switch can make)."""

    def __init__(self) -> None:
        super().__init__(cast(Engine, None), ttl_seconds=3600)
        self.rows = {hash_token(TOKEN): ANN}
        self.loads = 0
        self.revoke_while_loading = False

    def _load(self, digest: str) -> Principal | None:
        self.loads += 1
        found = self.rows.get(digest)
        if self.revoke_while_loading:
            self.revoke_while_loading = False
            del self.rows[digest]
            self.forget([digest])
        return found


def test_a_load_that_a_revocation_overtook_is_not_cached() -> None:
    auth = FakeDatabase()
    auth.revoke_while_loading = True
    assert auth.authenticate(TOKEN) == ANN  # the request that raced the revocation
    assert auth.cached(TOKEN) is False
    assert auth.authenticate(TOKEN) is None  # the next one is refused
    assert auth.loads == 2


def test_a_token_is_cached_and_forgotten_on_revocation() -> None:
    auth = FakeDatabase()
    assert auth.authenticate(TOKEN) == ANN
    assert auth.authenticate(TOKEN) == ANN
    assert auth.loads == 1  # the second answer came from the cache
    del auth.rows[hash_token(TOKEN)]
    auth.forget([hash_token(TOKEN)])
    assert auth.authenticate(TOKEN) is None
    assert auth.authenticate(TOKEN) is None  # a refusal is cached too
    assert auth.loads == 2
