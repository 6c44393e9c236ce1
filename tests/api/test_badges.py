"""README badges on every backend (docs/triggers.md, "Badges"): an operator turns them on and gets addresses and
Markdown; the pictures answer without a token (a forge's image proxy sends none) with the branch's last verdict and
coverage, uncached; a wrong key, an unknown project, a replaced key and badges turned off are the same 404; only
operators change them, and another team never sees them."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.models import Role
from tests.helpers.api import add_user, assert_problem
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project, trigger, wait_for_status
from tests.helpers.servers import api_server

PASSING = """#!/bin/sh
covered=7
[ "$RUNBOARD_DEPTH_LEVEL" = deep ] && covered=4
cat > "$RUNBOARD_ARTIFACTS_DIR/coverage.xml" <<XML
<coverage lines-covered="$covered" lines-valid="8"/>
XML
[ "$RUNBOARD_DEPTH_LEVEL" != deep ]
"""
FAILING = '#!/bin/sh\nexit 1\n'


def picture(url: str) -> httpx.Response:
    """As a forge's image proxy asks: no token, no cookie."""
    return httpx.get(url, timeout=30)


def test_badges_show_a_branchs_last_verdict_and_coverage_to_anyone_with_the_address(
    settings_factory, tmp_path: Path
) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': PASSING}, 'feature/x': {'run.sh': FAILING}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        off = client.get('/api/projects/proj/badges')
        assert off.status_code == 200 and off.json() == {
            'project_id': 'proj',
            'enabled': False,
            'branch': 'main',
            'status_url': None,
            'coverage_url': None,
            'markdown': None,
        }

        made = client.post('/api/projects/proj/badges')
        assert made.status_code == 201, made.text
        badges = made.json()
        status_url, coverage_url = badges['status_url'], badges['coverage_url']
        assert status_url.startswith(f'{server.base_url}/api/badges/proj/rbb_') and status_url.endswith('/status.svg')
        assert coverage_url == status_url.replace('/status.svg', '/coverage.svg')
        assert badges['markdown'] == (
            f'[![build]({status_url})]({server.base_url}/projects/proj) '
            f'[![coverage]({coverage_url})]({server.base_url}/projects/proj)'
        )
        assert client.get('/api/projects/proj/badges').json() == badges  # a teammate reads them again

        before = picture(status_url)
        assert before.status_code == 200, before.text
        assert before.headers['content-type'] == 'image/svg+xml'
        assert 'no-cache' in before.headers['cache-control']
        assert before.text.startswith('<?xml') and '<svg' in before.text
        assert '>build<' in before.text and '>no runs<' in before.text
        assert '>unknown<' in picture(coverage_url).text

        wait_for_status(client, trigger(client).json()['id'], ('succeeded',), timeout=60)
        wait_for_status(client, trigger(client, branch='feature/x').json()['id'], ('failed',), timeout=60)
        assert '>passing<' in picture(status_url).text
        assert '>87.5%<' in picture(coverage_url).text
        assert '>failing<' in picture(status_url + '?branch=feature/x').text
        assert '>unknown<' in picture(coverage_url + '?branch=feature/x').text
        assert '>no runs<' in picture(status_url + '?branch=nope').text
        # one depth level's badge (as GitHub's is one workflow's): a deep run failing after main's quick one passed
        deep = trigger(client, depth='deep')
        assert deep.status_code == 201, deep.text
        wait_for_status(client, deep.json()['id'], ('failed',), timeout=60)
        assert '>failing<' in picture(status_url).text  # the branch's last verdict, whatever its depth
        assert '>passing<' in picture(status_url + '?depth=shallow').text
        assert '>failing<' in picture(status_url + '?depth=deep&framework=python').text
        assert '>no runs<' in picture(status_url + '?depth=shallow&framework=go').text
        assert '>50.0%<' in picture(coverage_url).text and '>87.5%<' in picture(coverage_url + '?depth=shallow').text

        # a wrong key, an unknown project, a picture that is not one: the same 404, never a picture
        wrong = status_url.replace('/rbb_', '/rbb_x')
        assert_problem(picture(wrong), 404, 'not_found')
        assert_problem(picture(status_url.replace('/badges/proj/', '/badges/other/')), 404, 'not_found')
        assert_problem(picture(status_url.replace('/status.svg', '/logo.svg')), 404, 'not_found')
        assert_problem(picture(status_url.replace('/rbb_', '/rbb_%C3%A9')), 404, 'not_found')  # not ASCII: no 500

        # a new key: the old addresses stop working at once; off: every address is gone
        again = client.post('/api/projects/proj/badges').json()
        assert again['status_url'] != status_url
        assert_problem(picture(status_url), 404, 'not_found')
        assert picture(again['status_url']).status_code == 200
        assert client.delete('/api/projects/proj/badges').status_code == 204
        assert_problem(picture(again['status_url']), 404, 'not_found')
        assert client.get('/api/projects/proj/badges').json()['enabled'] is False
        assert 'badge_key' not in client.get('/api/projects/proj').json()  # never in the project's answer

        audit = client.get('/api/audit', params={'project': 'proj'}).json()
        actions = [entry['action'] for entry in audit['items']]
        assert actions.count('project.badge_key_rotated') == 2 and 'project.badges_removed' in actions


def test_only_operators_change_badges_and_another_team_never_sees_them(settings_factory, tmp_path: Path) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': PASSING}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        made = client.post('/api/projects/proj/badges').json()
        with server.client(token=add_user(server, role=Role.builder, name='bob')) as bob:
            assert bob.get('/api/projects/proj/badges').json() == made
            assert_problem(bob.post('/api/projects/proj/badges'), 403, 'forbidden')
            assert_problem(bob.delete('/api/projects/proj/badges'), 403, 'forbidden')
        with server.client(token=add_user(server, team='other', name='eve')) as eve:
            assert_problem(eve.get('/api/projects/proj/badges'), 404, 'not_found')
            assert_problem(eve.post('/api/projects/proj/badges'), 404, 'not_found')
        assert picture(made['status_url']).status_code == 200  # bob's refused attempts changed nothing
        assert_problem(httpx.get(f'{server.base_url}/api/projects/proj/badges', timeout=30), 401, 'unauthorized')
