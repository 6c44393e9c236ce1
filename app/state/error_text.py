"""What a failed request means, in words a person understands; the technical part (status, machine code,
the server's detail) goes behind the CorrelationChip. Pure."""

from __future__ import annotations

from app.client import ApiError


def in_words(error: ApiError, doing: str) -> str:
    """'Could not <doing>: <why, and what to do>'. Problem details written for people (4xx) are kept."""
    why = (
        {
            'network': 'the Runboard server is not answering (it may be restarting or offline). Try again in a moment.',
            'timeout': 'the server did not answer in time. Try again in a moment.',
        }.get(error.error)
        if error.status == 0
        else None
    )
    if why is None:
        why = {
            401: 'your sign-in is no longer valid. Sign in again.',
            403: 'you are not allowed to do this (it needs an operator).',
            404: 'it does not exist, or it is not visible to you.',
            503: 'a service the server needs (database or Redis) is not answering. Try again shortly.',
        }.get(error.status)
    if why is None and error.status >= 500:
        why = 'the server hit a problem. Quote the correlation id when you report it.'
    if why is None:
        why = error.detail or 'the server refused it.'
    return f'Could not {doing}: {why}'


def technical(error: ApiError) -> str:
    """The details behind the chip: what the server (or the network) said exactly."""
    where = f'HTTP {error.status}' if error.status else 'no answer'
    return f'{where} · {error.error} · {error.detail}'
