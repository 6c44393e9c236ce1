"""Pure: the PATCH body of the project page's "Repository and credentials" form. The secret is write-only:
the form never shows a stored one, and leaving the choice on "keep" sends no credentials at all."""

from __future__ import annotations

from typing import Any, Literal

CredentialsChoice = Literal['keep', 'none', 'token', 'ssh_key']


def repository_changes(
    *,
    current_repository: str,
    repository: str,
    choice: CredentialsChoice,
    username: str,
    secret: str,
) -> dict[str, Any] | str:
    """The changes to send, or a sentence saying what is missing."""
    changes: dict[str, Any] = {}
    repository = repository.strip()
    if not repository:
        return 'Enter the repository: an absolute path or a clone URL.'
    if repository != current_repository:
        changes['repository'] = repository
    if choice == 'none':
        changes['credentials'] = None
    elif choice in ('token', 'ssh_key'):
        if not secret.strip():
            return 'Enter the token.' if choice == 'token' else 'Paste the SSH private key.'
        changes['credentials'] = {
            'kind': choice,
            'username': username.strip() or 'git',
            'secret': secret.strip() if choice == 'token' else secret,
        }
    if not changes:
        return 'Nothing changed.'
    return changes
