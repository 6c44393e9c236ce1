"""The project form: a project <-> the boxes, the POST and PATCH bodies, and the server's refusals beside their
boxes (app/state/project_form.py, app/state/form_problems.py)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from app.state.form_problems import GENERAL, delete_refusal, field_errors, humane
from app.state.form_text import parse_command
from app.state.project_form import (
    FIELDS,
    MASK,
    ProjectDraft,
    argv_preview,
    command_mode_for,
    cpus_input_text,
    create_body,
    draft_from,
    memory_input_text,
    parse_cpus,
    parse_memory,
    saved_text,
    slug_of,
    update_body,
)

PROJECT = {
    'id': 'svc',
    'team_id': 'local',
    'name': 'Service',
    'repository': '/srv/git/svc',
    'base_branch': 'main',
    'command': ['sh', '-c', 'make test'],
    'depth_levels': ['shallow', 'deep'],
    'target_frameworks': ['python'],
    'runs_on': [],
    'max_concurrent_runs': 2,
    'run_budget_seconds': 5400,
    'queued_ttl_seconds': None,
    'issue_source': {'kind': 'gitea', 'owner': 'team', 'token': MASK, 'timeout_seconds': 5},
    'has_credentials': True,
    'credentials_kind': 'token',
}


def test_a_project_fills_the_boxes_and_unchanged_boxes_send_nothing() -> None:
    draft = draft_from(PROJECT)
    assert (draft.command, draft.command_mode) == ("sh -c 'make test'", 'line')  # the line it was typed as
    assert (draft.depth_levels, draft.run_budget, draft.queued_ttl) == ('shallow, deep', '1h30m', '')
    assert (draft.source_kind, draft.source, draft.source_has_token) == ('gitea', {'owner': 'team'}, True)
    assert draft.source_extra == {'timeout_seconds': 5} and draft.credentials == 'keep'
    assert update_body(draft, PROJECT) == ({}, {})


@pytest.mark.parametrize(
    ('argv', 'mode', 'text'),
    [
        (['pytest', '-x'], 'line', 'pytest -x'),
        # a space inside one argument: the line a person types, quoted as shlex.join quotes it
        (['pytest', '-k', 'slow and not db'], 'line', "pytest -k 'slow and not db'"),
        (['sh', '-c', 'make test && make lint'], 'line', "sh -c 'make test && make lint'"),
        (['echo', "it's", 'a "b"'], 'line', """echo 'it'"'"'s' 'a "b"'"""),
        (['echo', ''], 'line', "echo ''"),
        (['printf', 'a\nb'], 'line', "printf 'a\nb'"),  # an argument with a line break fits no line of its own
        ([], 'line', ''),
    ],
)
def test_a_stored_command_reopens_as_the_line_that_gives_it_back(argv: list[str], mode: str, text: str) -> None:
    draft = draft_from({**PROJECT, 'command': argv})
    assert (command_mode_for(argv), draft.command_mode, draft.command) == (mode, mode, text)
    assert parse_command(draft.command, draft.command_mode) == argv


@pytest.mark.parametrize(
    ('change', 'body'),
    [
        ({'max_concurrent_runs': 5.0}, {'max_concurrent_runs': 5}),
        ({'max_concurrent_runs': None}, {'max_concurrent_runs': None}),  # the server says it is required
        ({'name': '  Svc  '}, {'name': 'Svc'}),
        ({'command': 'pytest -x', 'command_mode': 'line'}, {'command': ['pytest', '-x']}),
        ({'depth_levels': 'deep, shallow'}, {'depth_levels': ['deep', 'shallow']}),
        ({'runs_on': 'linux, gpu'}, {'runs_on': ['linux', 'gpu']}),
        ({'run_budget': ''}, {'run_budget_seconds': None}),  # back to the server's default
        ({'queued_ttl': '10m'}, {'queued_ttl_seconds': 600}),
        ({'log_retention': 30.0}, {'log_retention_days': 30}),
        ({'auto_retry': 2}, {'auto_retry': 2}),  # on the statuses it had (the default: crashed, timed out)
        ({'auto_retry_on': ['failed', 'crashed']}, {'auto_retry_on': ['crashed', 'failed']}),
        # a forge field changes: the whole source is sent, the stored token as its mask (the server keeps it)
        (
            {'source': {'owner': 'other'}},
            {'issue_source': {'kind': 'gitea', 'owner': 'other', 'token': MASK, 'timeout_seconds': 5}},
        ),
        (
            {'source_token': ' new '},
            {'issue_source': {'kind': 'gitea', 'owner': 'team', 'token': 'new', 'timeout_seconds': 5}},
        ),
        ({'source_kind': 'local'}, {'issue_source': {'kind': 'local'}}),
        ({'credentials': 'none'}, {'credentials': None}),
        (
            {'credentials': 'token', 'credentials_secret': ' tok ', 'credentials_username': ''},
            {'credentials': {'kind': 'token', 'username': 'git', 'secret': 'tok'}},
        ),
        (
            {'credentials': 'ssh_key', 'credentials_secret': 'KEY\n', 'credentials_username': 'deploy'},
            {'credentials': {'kind': 'ssh_key', 'username': 'deploy', 'secret': 'KEY\n'}},  # a key is kept as pasted
        ),
    ],
)
def test_a_changed_box_sends_only_its_field(change: dict, body: dict) -> None:
    assert update_body(replace(draft_from(PROJECT), **change), PROJECT) == (body, {})


@pytest.mark.parametrize(
    ('change', 'field', 'message'),
    [
        ({'command': "sh -c 'oops", 'command_mode': 'line'}, 'command', 'No closing quotation'),
        ({'max_concurrent_runs': 2.5}, 'max_concurrent_runs', 'whole number'),
        ({'run_budget': 'a while'}, 'run_budget_seconds', 'Write a duration'),
        ({'queued_ttl': '0'}, 'queued_ttl_seconds', 'longer than 0'),
        ({'auto_retry': 1, 'auto_retry_on': []}, 'auto_retry_on', 'Pick at least one'),
        ({'log_retention': 2.5}, 'log_retention_days', 'whole number'),
    ],
)
def test_a_box_that_does_not_parse_is_named_and_not_sent(change: dict, field: str, message: str) -> None:
    body, problems = update_body(replace(draft_from(PROJECT), **change), PROJECT)
    assert field not in body and list(problems) == [field] and message in problems[field]


def test_a_new_project_sends_what_was_typed_and_leaves_defaults_to_the_server() -> None:
    draft = ProjectDraft(id=' web ', name='Web', repository='/srv/web', command='npm test', team_id='red')
    assert create_body(draft) == (
        {
            'id': 'web',
            'team_id': 'red',
            'name': 'Web',
            'repository': '/srv/web',
            'base_branch': 'main',
            'command': ['npm', 'test'],
            'depth_levels': ['shallow', 'standard', 'deep'],
            'target_frameworks': ['python', 'node', 'go'],
            'max_concurrent_runs': 2,
        },
        {},
    )
    forge = replace(draft, repository='', source_kind='github', source={'owner': 'o', 'repo': 'r', 'api_url': ' '})
    body, _ = create_body(replace(forge, credentials='token', credentials_secret='t', run_budget='2h'))
    assert body['issue_source'] == {'kind': 'github', 'owner': 'o', 'repo': 'r'}
    assert body['credentials'] == {'kind': 'token', 'username': 'git', 'secret': 't'}
    assert body['run_budget_seconds'] == 7200 and body['repository'] == ''  # the forge's clone URL, server side


@pytest.mark.parametrize(
    ('command', 'mode', 'preview'),
    [
        ('sh run.sh', 'line', ['sh', 'run.sh']),
        ('', 'line', 'Enter the command to run.'),
        ('a "b', 'line', 'No closing quotation: close the quote or escape it with a backslash'),
    ],
)
def test_the_argv_that_will_run_is_previewed(command: str, mode, preview) -> None:  # noqa: ANN001
    assert argv_preview(ProjectDraft(command=command, command_mode=mode)) == preview


@pytest.mark.parametrize(
    ('status', 'body', 'errors'),
    [
        # request validation: every error beside its box, nested paths to their box, pydantic's wording tidied
        (
            422,
            {
                'errors': [
                    {'field': 'max_concurrent_runs', 'message': 'Input should be greater than or equal to 1'},
                    {'field': 'id', 'message': 'Value error, must be a slug', 'type': 'value_error'},
                    {'field': 'credentials.secret', 'message': 'String should have at least 1 character'}
                    | {'type': 'string_too_short'},
                    {'field': 'name', 'message': 'Field required', 'type': 'missing'},
                ]
            },
            {
                'max_concurrent_runs': 'Input should be greater than or equal to 1.',
                'id': 'Must be a slug.',
                'credentials': 'Required.',
                'name': 'Required.',
            },
        ),
        (422, {'detail': 'no field named'}, {}),  # nothing to put beside a box: the page says it in words
        (422, {'errors': [{'field': 'body', 'message': 'bad'}]}, {GENERAL: 'Bad.'}),
        # a domain refusal names one field
        (
            422,
            {'field': 'base_branch', 'detail': "base branch 'dev' does not exist"},
            {'base_branch': "Base branch 'dev' does not exist."},
        ),
        (
            422,
            {'field': 'team_id', 'detail': 'team_id must be one of your teams'},
            {'team_id': 'Must be one of your teams.'},
        ),
        (
            422,
            {'field': 'max_concurrent_runs', 'detail': 'max_concurrent_runs cannot be null'},
            {'max_concurrent_runs': 'Required.'},
        ),
        (
            422,
            {'field': 'repository', 'detail': 'Runs cannot use this repository: ext:: helper.'},
            {'repository': 'Runs cannot use this repository: ext:: helper.'},
        ),
        # a project id already taken: beside the id box
        (
            409,
            {'error': 'conflict', 'detail': "a project with id 'web' already exists"},
            {'id': "A project with id 'web' already exists."},
        ),
        (403, {'error': 'forbidden', 'detail': 'only operators can change projects'}, {}),
    ],
)
def test_a_refusal_lands_beside_the_box_it_names(status: int, body: dict, errors: dict) -> None:
    assert field_errors(status, body, FIELDS, conflict_field='id') == errors


@pytest.mark.parametrize(
    ('message', 'kind', 'text'),
    [('Field required', 'missing', 'Required.'), ('must be a slug', '', 'Must be a slug.'), ('', '', 'Not valid.')]
    + [('Value error, ok!', 'value_error', 'Ok!')],
)
def test_pydantic_wording_reads_as_a_sentence(message: str, kind: str, text: str) -> None:
    assert humane(message, kind) == text


@pytest.mark.parametrize(
    ('body', 'text'),
    [
        (
            {'error': 'project_busy', 'blocking_runs': ['run_1']},
            'Web was not deleted: 1 run is still queued or running. Stop it',
        ),
        (
            {'error': 'project_busy', 'blocking_runs': ['run_1', 'run_2']},
            'Web was not deleted: 2 runs are still queued or running. Stop them',
        ),
        ({'error': 'not_found', 'detail': "project 'web' not found"}, "Web was not deleted: project 'web' not found"),
    ],
)
def test_a_refused_delete_says_why_in_words(body: dict, text: str) -> None:
    assert delete_refusal(body, 'Web').startswith(text)


@pytest.mark.parametrize(
    ('name', 'slug'),
    [('My App 2', 'my-app-2'), ('  Ünïcode -- Svc!', 'unicode-svc'), ('---', ''), ('x' * 80, 'x' * 64)],
)
def test_the_id_suggested_by_a_name_is_a_slug(name: str, slug: str) -> None:
    assert slug_of(name) == slug


@pytest.mark.parametrize(
    ('typed', 'stored', 'shown'),
    [
        ('4GiB', 4 * 1024**3, '4GiB'),
        ('512 MiB', 512 * 1024**2, '512MiB'),
        ('4GB', 4_000_000_000, '3906250KiB'),  # GB is 10^9: shown back as what it is, read again to the same bytes
        ('', None, ''),  # the server's
    ],
)
def test_a_memory_limit_typed_and_shown(typed: str, stored: int | None, shown: str) -> None:
    assert parse_memory(typed) == stored
    assert memory_input_text(stored) == shown and parse_memory(shown) == stored


@pytest.mark.parametrize(
    ('typed', 'problem'),
    [('lots', "Enter a size like 4GiB or 512MiB; leave it empty for the server's limit."), ('1KiB', 'at least 1MiB')],
)
def test_a_memory_limit_that_does_not_parse_says_why(typed: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_memory(typed)
    draft = draft_from(PROJECT)
    draft.run_memory = typed
    body, problems = update_body(draft, PROJECT)
    assert 'run_memory_max' in problems and 'run_memory_max' not in body


def test_a_memory_limit_is_sent_only_when_changed() -> None:
    draft = draft_from({**PROJECT, 'run_memory_max': 2 * 1024**3})
    assert draft.run_memory == '2GiB' and update_body(draft, {**PROJECT, 'run_memory_max': 2 * 1024**3})[0] == {}
    draft.run_memory = ''
    assert update_body(draft, {**PROJECT, 'run_memory_max': 2 * 1024**3})[0] == {'run_memory_max': None}


@pytest.mark.parametrize(
    ('typed', 'cores'),
    [('2', 2.0), ('1.5', 1.5), (' 0,5 ', 0.5), ('', None)],  # a decimal comma as many keyboards type it
)
def test_a_cpu_limit_typed(typed: str, cores: float | None) -> None:
    assert parse_cpus(typed) == cores


@pytest.mark.parametrize(
    ('typed', 'problem'),
    [('two', 'Enter a number of cores like 2 or 1.5'), ('0.001', 'between 0.01 and 1024 cores'), ('nan', 'between')],
)
def test_a_cpu_limit_that_does_not_parse_says_why_and_is_not_sent(typed: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_cpus(typed)
    draft = draft_from({**PROJECT, 'run_cpus': 2.0})
    assert draft.run_cpus == '2' and update_body(draft, {**PROJECT, 'run_cpus': 2.0})[0] == {}
    draft.run_cpus = typed
    body, problems = update_body(draft, {**PROJECT, 'run_cpus': 2.0})
    assert 'run_cpus' in problems and 'run_cpus' not in body


@pytest.mark.parametrize(
    ('fields', 'text'),
    [
        ({'run_budget_seconds', 'max_concurrent_runs'}, 'Saved max concurrent runs and run budget.'),  # form order
        (['run_cpus'], 'Saved CPUs per run.'),
        (['issue_source', 'name', 'credentials'], 'Saved name, Git credentials and issue source.'),
        (['a_field_of_a_newer_server'], 'Saved a_field_of_a_newer_server.'),
    ],
)
def test_a_save_says_what_it_saved_in_the_forms_words(fields, text: str) -> None:  # noqa: ANN001
    assert saved_text(fields) == text


@pytest.mark.parametrize('stored', [2.0, 0.5, 0.33333333, 123.456789, 0.1 + 0.2])
def test_a_stored_cpu_limit_is_shown_whole_and_not_sent_again(stored: float) -> None:
    assert parse_cpus(cpus_input_text(stored)) == stored
    draft = draft_from({**PROJECT, 'run_cpus': stored})
    assert update_body(draft, {**PROJECT, 'run_cpus': stored})[0] == {}
