import pytest

from app.api.routing import routes_to_api


@pytest.mark.parametrize(
    ('path', 'method', 'accept', 'expected'),
    [
        ('/runs', 'POST', '*/*', True),  # API clients trigger at the bare path
        ('/runs/run_1', 'GET', 'application/json', True),
        ('/runs/run_1', 'GET', '', True),  # curl without Accept
        ('/runs/run_1', 'GET', 'text/html,application/xhtml+xml', False),  # a browser gets the page
        ('/projects/demo', 'GET', 'text/html', False),
        ('/projects/demo/branches', 'GET', 'application/json', True),
        ('/afk/reset/demo', 'POST', 'text/html', True),  # a plain HTML form post still reaches the API
        ('/', 'GET', 'application/json', False),  # the dashboard is never rewritten
        ('/runsx', 'GET', 'application/json', False),  # only whole path segments match
        ('/_nicegui/1.0/static/x.js', 'GET', '*/*', False),
    ],
)
def test_routes_to_api(path: str, method: str, accept: str, expected: bool) -> None:
    assert routes_to_api(path, method, accept) is expected
