"""`runboard runs list`: what an AFK run's agent spent is a column (docs/afk.md, "Cost"), there only when some run in
the list reported a cost, so a list of ordinary runs keeps its width for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from app.cli.render import runs_table

# created now, so CREATED reads as a run of today does (`14:03:07`), whatever day the suite runs on: a fixed day
# became `2026-11-21 14:03` once it had passed, and the wider column changed which columns fit
CREATED = datetime.now(UTC).replace(microsecond=0)
RUN = {
    'id': 'run_01m8czswdwave4ejg6b0610xda',
    'status': 'succeeded',
    'project_id': 'web',
    'branch_name': 'afk/7',
    'depth_level': 'shallow',
    'target_framework': 'python',
    'kind': 'auto',
    'issue_number': 7,
    'user_name': None,
    'created_at': CREATED.isoformat(),
    'started_at': (CREATED + timedelta(seconds=1)).isoformat(),
    'finished_at': (CREATED + timedelta(seconds=180)).isoformat(),
}


def _shown(runs: list[dict], width: int = 160) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(runs_table(runs, width=width))
    return console.export_text()


def test_what_each_agent_spent_is_a_column_beside_the_runs_that_spent_nothing() -> None:
    shown = _shown([{**RUN, 'usage': {'cost_usd': 1.2345, 'input_tokens': 10}}, {**RUN, 'id': 'run_2', 'usage': None}])
    assert 'COST' in shown
    assert '$1.23' in shown


def test_a_list_where_nothing_was_spent_has_no_cost_column() -> None:
    assert 'COST' not in _shown([{**RUN, 'usage': None}])


def test_the_cost_gives_way_before_the_run_id_in_a_narrow_terminal() -> None:
    table, caption = _shown([{**RUN, 'usage': {'cost_usd': 0.5}}], width=60).split('Not shown, for the width:')
    assert RUN['id'] in table and 'COST' not in table and 'COST' in caption


COMMITTED = {
    **RUN,
    'kind': 'manual',
    'issue_number': None,
    'user_name': 'ann',
    'commit_sha': 'a' * 40,
    'commit_title': 'Make the parser accept a trailing comma in every list',
}


def test_the_commit_is_cut_to_its_sha_and_some_words_before_user_and_kind_and_then_itself_give_way() -> None:
    whole = _shown([COMMITTED], width=160)
    assert 'aaaaaaa Make the parser accept a traili…' in whole and 'USER' in whole  # 40 characters in a terminal
    # 120 columns: USER and KIND give way, the commit keeps what room is left
    table, caption = _shown([COMMITTED], width=120).split('Not shown, for the width:')
    assert 'aaaaaaa Make the parser' in table and 'KIND, USER' in caption
    assert all(len(line) <= 120 for line in table.splitlines())
    # 100 columns: the commit cut below its sha and eleven characters says nothing; it goes and KIND fits again
    table, caption = _shown([COMMITTED], width=100).split('Not shown, for the width:')
    assert 'aaaaaaa' not in table and 'manual' in table and 'COMMIT, USER' in caption
