"""Table tests for the admission policy's steps (services/runs/admission.admit), on a transaction made of facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import DomainError
from app.services.runs import admission
from app.services.runs.admission import Ask, Conflict, RepositoryFacts, StaleProject, StoredKey
from app.services.runs.ratelimit import Quota

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
OPEN = Quota(True, 10, 9, 60, 0.0)
SPENT = Quota(False, 10, 0, 60, 12.5)
FREE_REPO = RepositoryFacts(True, 2, None, None, None)


@dataclass
class Facts:
    """A transaction answered from a table row; `done` records what the steps did, in order."""

    claimable: bool = True  # the key is free
    stored: StoredKey | None = None
    expired_claimable: bool = True
    quota: Quota = OPEN
    repo: RepositoryFacts = FREE_REPO
    counted: int = 0
    held: set[int] = field(default_factory=set)
    done: list[str] = field(default_factory=list)

    def claim_key(self) -> bool:
        self.done.append('claim')
        return self.claimable

    def stored_key(self) -> StoredKey | None:
        self.done.append('read key')
        return self.stored

    def claim_expired_key(self) -> bool:
        self.done.append('claim expired')
        return self.expired_claimable

    def take_quota(self) -> Quota:
        self.done.append('quota')
        return self.quota

    def peek_quota(self) -> Quota:
        self.done.append('peek')
        return self.quota

    def repository(self) -> RepositoryFacts:
        self.done.append('facts')
        return self.repo

    def slotted_count(self, limit: int) -> int:
        self.done.append('count')
        return min(self.counted, limit)

    def slotted_ids(self) -> tuple[str, ...]:
        return ('run_a', 'run_b')

    def held_slots(self) -> set[int]:
        self.done.append('slots')
        return self.held

    def write(self, slot: int | None) -> str:
        self.done.append(f'write slot={slot}')
        return 'run_new'


ASK = Ask(fingerprint='fp', branch='main')


def outcome(tx: Facts, ask: Ask = ASK) -> object:
    """What admit answered: (run, replayed), an error code, or the exception's name."""
    try:
        admitted = admission.admit(tx, ask, NOW)
    except DomainError as exc:
        return exc.error
    except (Conflict, StaleProject) as exc:
        return type(exc).__name__
    return (admitted.run, admitted.replayed)


@pytest.mark.parametrize(
    ('tx', 'expected', 'steps'),
    [
        # 1. idempotency
        (Facts(), ('run_new', False), ['claim', 'quota', 'facts', 'write slot=0']),
        (  # same key, same body: the run it made, quota only read
            Facts(claimable=False, stored=StoredKey('fp', 'run_1', LATER, 'run_1')),
            ('run_1', True),
            ['claim', 'read key', 'peek'],
        ),
        (Facts(claimable=False, stored=StoredKey('other', 'run_1', LATER)), 'idempotency_key_mismatch', None),
        (Facts(claimable=False, stored=StoredKey('fp', None, LATER)), 'idempotency_in_flight', None),
        (  # expired: claimed again, then on as new
            Facts(claimable=False, stored=StoredKey('other', 'run_1', NOW)),
            ('run_new', False),
            ['claim', 'read key', 'claim expired', 'quota', 'facts', 'write slot=0'],
        ),
        (  # taken again meanwhile: decide again
            Facts(claimable=False, stored=StoredKey('fp', 'run_1', NOW), expired_claimable=False),
            'Conflict',
            None,
        ),
        (  # gone between the claim and the read: free, claimed
            Facts(claimable=False, stored=None),
            ('run_new', False),
            ['claim', 'read key', 'claim expired', 'quota', 'facts', 'write slot=0'],
        ),
        # 2. rate limit: before the repository is looked at
        (Facts(quota=SPENT), 'rate_limited', ['claim', 'quota']),
        # 3. repository: concurrency, then the PR lock
        (Facts(repo=RepositoryFacts(False, 2, None, None, None)), 'StaleProject', None),
        (Facts(repo=RepositoryFacts(True, 2, 0, None, None)), ('run_new', False), None),  # slot 1 is free
        (Facts(repo=RepositoryFacts(True, 2, 1, None, None), counted=2), 'concurrency_limit', None),
        (Facts(repo=RepositoryFacts(True, 2, 1, 'run_x', None), counted=2), 'concurrency_limit', None),
        (Facts(repo=RepositoryFacts(True, 2, 0, 'run_x', None)), 'pr_lock', None),
        (  # a hole below the highest slot: the lowest free one
            Facts(repo=RepositoryFacts(True, 3, 2, None, None), counted=2, held={0, 2}),
            ('run_new', False),
            ['claim', 'quota', 'facts', 'count', 'slots', 'write slot=1'],
        ),
    ],
)
def test_admit_runs_the_steps_in_order(tx: Facts, expected: object, steps: list[str] | None) -> None:
    assert outcome(tx) == expected
    if steps is not None:
        assert tx.done == steps


def test_a_refusal_names_the_blocking_runs_and_the_wait() -> None:
    with pytest.raises(DomainError) as limit:
        admission.admit(Facts(repo=RepositoryFacts(True, 2, 1, None, None), counted=2), ASK, NOW)
    assert limit.value.extra['blocking_runs'] == ['run_a', 'run_b']
    with pytest.raises(DomainError) as lock:
        admission.admit(Facts(repo=RepositoryFacts(True, 2, None, 'run_x', None)), ASK, NOW)
    assert lock.value.extra['holder_run_id'] == 'run_x'
    with pytest.raises(DomainError) as rate:
        admission.admit(Facts(quota=SPENT), ASK, NOW)
    assert (rate.value.status, rate.value.headers['Retry-After']) == (429, '13')


@pytest.mark.parametrize(
    ('ask', 'tx', 'expected', 'steps'),
    [
        # a delayed run reads its quota and holds no slot and no PR lock until it is due
        (Ask('fp', 'main', delayed=True), Facts(quota=SPENT), ('run_new', False), ['claim', 'peek', 'write slot=None']),
        (
            Ask('fp', 'main', delayed=True),
            Facts(repo=RepositoryFacts(True, 1, 0, 'run_x', None)),
            ('run_new', False),
            None,
        ),
        # a matrix batch's child is not locked out by its siblings, only by others
        (
            Ask('fp', 'main', batch_id='b1'),
            Facts(repo=RepositoryFacts(True, 5, 0, 'run_s', 'b1')),
            ('run_new', False),
            None,
        ),
        (Ask('fp', 'main', batch_id='b1'), Facts(repo=RepositoryFacts(True, 5, 0, 'run_x', 'b2')), 'pr_lock', None),
        # the AFK loop bypasses the limit (and holds no slot), never the PR lock
        (
            Ask('fp', 'main', bypass_concurrency=True),
            Facts(repo=RepositoryFacts(True, 1, 0, None, None)),
            ('run_new', False),
            ['claim', 'quota', 'facts', 'write slot=None'],
        ),
        (
            Ask('fp', 'main', bypass_concurrency=True),
            Facts(repo=RepositoryFacts(True, 1, 0, 'run_x', None)),
            'pr_lock',
            None,
        ),
    ],
)
def test_what_a_run_holds_depends_on_what_it_asks(
    ask: Ask, tx: Facts, expected: object, steps: list[str] | None
) -> None:
    assert outcome(tx, ask) == expected
    if steps is not None:
        assert tx.done == steps


@pytest.mark.parametrize(
    ('limit', 'window', 'said'),
    [
        (1, 10, 'Run limit reached: 1 run per 10 s. Retry in 13 s.'),
        (10, 60, 'Run limit reached: 10 runs per 60 s. Retry in 13 s.'),
    ],
)
def test_the_quota_refusal_says_the_limit_in_words(limit: int, window: int, said: str) -> None:
    refusal = admission.rate_limited(Quota(False, limit, 0, window, 12.5))
    assert (refusal.status, refusal.detail) == (429, said)
