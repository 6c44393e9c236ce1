from app.models import RunStatus


def test_smoke(world) -> None:
    world.project('p1', issues=2)
    report = world.loop.sweep()
    assert len(report.launched) == 1
    runs = world.active_auto_runs('p1')
    assert runs[0]['branch_name'] == 'afk/1'
    world.reap(runs[0]['id'], RunStatus.failed, 'exit code 1')
    assert world.get('p1').consecutive_failures == 1
    report = world.loop.sweep()
    assert world.active_auto_runs('p1')[0]['issue_number'] == 2
