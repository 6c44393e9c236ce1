"""No-wait mode (infra/no_wait.py): a call on the event loop either finishes without waiting or gives up
before any effect, so the threadpool can run it again. The steps that may wait refuse in that mode."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time

import pytest

from app.infra import no_wait
from app.infra.db import make_engine, session_scope, upgrade
from app.infra.no_wait import Attempt
from app.infra.rawdb import RawDB
from app.models import Project, Role, Team
from app.services.identity.accounts import Principal
from app.services.projects import cache as project_cache
from app.services.projects.cache import ProjectCache
from app.services.repositories import gitops


def test_a_call_that_never_waits_finishes_in_no_wait_mode() -> None:
    assert no_wait.attempt(lambda: 'done') == Attempt(True, 'done')


def test_a_call_that_would_wait_gives_up_and_the_mode_ends_with_it() -> None:
    steps: list[str] = []

    def call() -> str:
        steps.append('before')
        no_wait.refuse()
        steps.append('after')
        return 'done'

    assert no_wait.attempt(call) == Attempt(False, busy=False)  # work for a thread, not a lock to wait out
    assert steps == ['before']
    assert not no_wait.active()
    assert call() == 'done'  # outside the mode, refuse() lets it go on


def test_the_mode_belongs_to_its_own_thread() -> None:
    seen: list[bool] = []
    with no_wait.mode():
        other = threading.Thread(target=lambda: seen.append(no_wait.active()))
        other.start()
        other.join()
        assert no_wait.active()
    assert seen == [False]


def test_a_lock_held_elsewhere_is_refused_in_no_wait_mode_and_waited_for_outside_it() -> None:
    lock = no_wait.Lock()
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)

    def take() -> str:
        with lock:
            return 'taken'

    assert no_wait.attempt(take) == Attempt(False, busy=True)
    threading.Timer(0.1, release.set).start()
    assert take() == 'taken'  # outside the mode: waits for the holder
    thread.join()
    assert no_wait.attempt(take) == Attempt(True, 'taken')  # free: taken at once


@pytest.fixture
def database(tmp_path):  # noqa: ANN001, ANN201
    engine = make_engine(f'sqlite:///{tmp_path / "runboard.db"}')
    upgrade(engine)
    yield engine, tmp_path / 'runboard.db'
    engine.dispose()


def _write(db: RawDB) -> str:
    with db.transaction() as cursor:
        cursor.execute("INSERT INTO team (id, name) VALUES ('t2', 'Two')")
    return 'written'


def _teams(db: RawDB) -> list[str]:
    with db.reading() as cursor:
        cursor.execute('SELECT id FROM team ORDER BY id')
        return [row[0] for row in cursor.fetchall()]


def test_sqlite_write_lock_held_by_another_connection_gives_up_and_writes_nothing(database) -> None:  # noqa: ANN001
    engine, path = database
    db = RawDB(engine)
    before = _teams(db)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute('BEGIN IMMEDIATE')
    try:
        assert no_wait.attempt(lambda: _write(db)) == Attempt(False, busy=True)
        assert no_wait.attempt(lambda: _teams(db)) == Attempt(True, before)  # a WAL read does not wait for the writer
    finally:
        other.rollback()
        other.close()
    assert _teams(db) == before
    assert no_wait.attempt(lambda: _write(db)) == Attempt(True, 'written')
    assert _teams(db) == sorted([*before, 't2'])


def test_the_no_wait_connection_is_renewed_when_the_engine_is_disposed(database) -> None:  # noqa: ANN001
    engine, _ = database
    db = RawDB(engine)
    assert no_wait.attempt(lambda: _teams(db)).done
    first = db._own
    engine.dispose()  # e.g. the pool is renewed: new connections get the engine's current set-up
    assert db._own is None
    assert no_wait.attempt(lambda: _teams(db)).done
    assert db._own is not None and db._own is not first


def test_branch_answers_come_from_the_snapshot_or_refuse_to_fork_git(repo_factory) -> None:  # noqa: ANN001
    repo = str(repo_factory({'main': {'a.txt': 'a'}, 'feature': {'b.txt': 'b'}}))
    cache = gitops.BranchCache()
    assert no_wait.attempt(lambda: cache.commit(repo, 'main')) == Attempt(False)  # no snapshot yet: git would run
    commit = cache.commit(repo, 'main')  # reads the snapshot (a fork), outside the mode
    assert commit
    assert no_wait.attempt(lambda: cache.commit(repo, 'main')) == Attempt(True, commit)
    assert no_wait.attempt(lambda: cache.commit(repo, 'pushed-since')) == Attempt(False)  # an exact lookup forks
    assert cache.commit(repo, 'pushed-since') is None
    assert no_wait.attempt(lambda: cache.commit(repo, 'pushed-since')) == Attempt(True, None)  # remembered briefly


def _eventually(check) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, 'the background read never landed'
        time.sleep(0.02)


def test_a_stale_snapshot_answers_on_the_loop_while_a_thread_reads_it_again(repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': {'a.txt': 'a'}})
    cache = gitops.BranchCache()
    old = cache.commit(str(repo), 'main')
    subprocess.run(
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '--allow-empty', '-m', 'pushed'],
        cwd=repo,
        check=True,
    )
    new = subprocess.run(['git', 'rev-parse', 'main'], cwd=repo, check=True, capture_output=True, text=True)
    cache.EXISTS_TTL = 0.0  # the snapshot is now stale
    assert no_wait.attempt(lambda: cache.commit(str(repo), 'main')) == Attempt(True, old)  # the one there is
    _eventually(lambda: cache._heads[str(repo)][1]['main'] == new.stdout.strip())  # read again in a thread
    assert cache.commit(str(repo), 'main') == new.stdout.strip()


def test_a_stale_project_answers_on_the_loop_while_a_thread_reads_it_again(database, monkeypatch) -> None:  # noqa: ANN001
    engine, _ = database
    with session_scope(engine) as session:
        session.add(Team(id='tp', name='Team'))
        session.flush()
        session.add(
            Project(id='p', name='Before', repository='/srv/r', repository_key='k', team_id='tp', command=['true'])
        )
    cache = ProjectCache(engine)
    owner = Principal(user_id='u', name='u', role=Role.builder.value, team_ids=frozenset({'tp'}))
    assert no_wait.attempt(lambda: cache.get('p', owner)) == Attempt(False)  # never read: the pool is needed
    assert cache.get('p', owner).name == 'Before'
    with session_scope(engine) as session:
        session.get(Project, 'p').name = 'After'
    monkeypatch.setattr(project_cache, 'PROJECT_CACHE_SECONDS', -1.0)  # the entry is now stale
    assert no_wait.attempt(lambda: cache.get('p', owner).name) == Attempt(True, 'Before')
    _eventually(lambda: cache._projects['p'][1].name == 'After')


def test_a_snapshot_read_again_unchanged_is_kept_and_a_moved_branch_is_seen(repo_factory) -> None:  # noqa: ANN001
    """Read again every few seconds, an unchanged listing keeps the dict it had: a fresh one each time (150,000
    names in bench/memory.py) fragmented the heap. A branch that moved still shows at the next read."""
    repo = str(repo_factory({'main': {'a.txt': 'a'}, 'feature': {'b.txt': 'b'}}))
    cache = gitops.BranchCache()
    cache.EXISTS_TTL = 0.0  # every question reads the heads again
    first = cache.commit(repo, 'main')
    heads = cache._heads[repo][1]
    assert cache.commit(repo, 'feature') and cache._heads[repo][1] is heads
    subprocess.run(
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '--allow-empty', '-m', 'pushed'],
        cwd=repo,
        check=True,
    )
    moved = cache.commit(repo, 'main')
    assert moved and moved != first
    assert cache._heads[repo][1] is not heads
