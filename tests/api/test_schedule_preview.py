"""The schedule form's preview: the next slots of a cron expression while one types, the same 422 as at
create for a bad expression or zone, nothing saved, and another team's project not found."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.models import Role
from tests.helpers.api import add_user, assert_problem

PREVIEW = '/api/projects/proj/schedules/preview'


def test_the_next_slots_in_the_zone_and_nothing_saved(api) -> None:  # noqa: ANN001
    reply = api.client.post(PREVIEW, json={'cron': '30 2 * * *', 'timezone': 'Europe/Berlin'})
    assert reply.status_code == 200, reply.text
    slots = [datetime.fromisoformat(s.replace('Z', '+00:00')) for s in reply.json()['next']]
    assert len(slots) == 3 and slots == sorted(slots)
    assert all(s.astimezone(ZoneInfo('Europe/Berlin')).strftime('%H:%M') == '02:30' for s in slots)
    assert api.client.get('/api/projects/proj/schedules').json() == []


def test_a_bad_expression_or_zone_is_the_create_refusal(api) -> None:  # noqa: ANN001
    bad_cron = assert_problem(api.client.post(PREVIEW, json={'cron': '61 * * * *'}), 422, 'validation')
    assert bad_cron.get('field') == 'cron'
    bad_zone = assert_problem(
        api.client.post(PREVIEW, json={'cron': '* * * * *', 'timezone': 'Mars/Base'}), 422, 'validation'
    )
    assert bad_zone.get('field') == 'timezone'
    assert_problem(api.client.post(PREVIEW, json={'cron': ''}), 422, 'validation')


def test_another_teams_project_is_not_found(api) -> None:  # noqa: ANN001
    stranger = add_user(api.server, team='blue', role=Role.operator, name='sam')
    with api.server.client(token=stranger) as as_stranger:
        assert_problem(as_stranger.post(PREVIEW, json={'cron': '* * * * *'}), 404, 'not_found')
