"""The Content-Security-Policy every answer goes out with (api/security_headers.py): the pages' policy, or an
artifact's sandbox with `frame-ancestors 'none'` once, however many layers it passes."""

from __future__ import annotations

import pytest

from app.api.security_headers import content_security_policy

PAGES = "frame-ancestors 'none'; img-src 'self' data: blob:"
SANDBOX = 'sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox'


@pytest.mark.parametrize(
    ('own_policy', 'sent'),
    [
        ('', PAGES),  # a page, an API answer: the pages' policy
        ("default-src 'self'", PAGES),  # an inner layer's policy other than a sandbox is replaced
        (SANDBOX, f"{SANDBOX}; frame-ancestors 'none'"),  # the API's artifact
        (f"{SANDBOX}; frame-ancestors 'none'", f"{SANDBOX}; frame-ancestors 'none'"),  # ... passed on by the UI
        (
            f"{SANDBOX}; frame-ancestors 'none'; frame-ancestors 'none'",  # as an older server sent it
            f"{SANDBOX}; frame-ancestors 'none'",
        ),
        (f'{SANDBOX}; frame-ancestors *', f"{SANDBOX}; frame-ancestors 'none'"),  # no layer opens framing
        (f"{SANDBOX}; img-src 'self'", f"{SANDBOX}; img-src 'self'; frame-ancestors 'none'"),  # the rest stays
        (f"{SANDBOX};; Frame-Ancestors 'self' ;", f"{SANDBOX}; frame-ancestors 'none'"),  # names are any case
    ],
)
def test_the_policy_names_frame_ancestors_once(own_policy: str, sent: str) -> None:
    assert content_security_policy(own_policy) == sent
    assert content_security_policy(content_security_policy(own_policy)) == sent  # a second layer changes nothing
