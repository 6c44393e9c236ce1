"""Secrets at rest (project tokens, deploy keys): Fernet tokens under one or more keys.

Keys come from the environment (comma-separated: the first encrypts, every one decrypts, so a key is
rotated by putting the new key first) or else from `<data_dir>/secret.key`, created on first use.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE_NAME = 'secret.key'


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


class SecretKeyInvalid(ValueError):
    """A configured key is not a Fernet key (the message never contains the key)."""


def _parse_keys(text: str, source: str) -> list[Fernet]:
    keys = [part.strip() for part in text.replace('\n', ',').split(',') if part.strip()]
    if not keys:
        raise SecretKeyInvalid(f'{source} holds no key')
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError as exc:
            raise SecretKeyInvalid(
                f'key {position} of {source} is not a Fernet key (32 url-safe base64-encoded bytes)'
            ) from exc
    return fernets


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` unless one exists. The key is written in full to a private temp file,
    then linked into place: os.link fails when `path` exists, so of two processes racing here exactly one
    key wins and the other process reads it; nobody ever reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.{secrets.token_hex(4)}')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, 'wb') as out:
            out.write(Fernet.generate_key() + b'\n')
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; its key is complete
    finally:
        tmp.unlink(missing_ok=True)


def load_key_file(path: Path) -> list[Fernet]:
    if not path.exists():
        _create_key_file(path)
    return _parse_keys(path.read_text(), str(path))


# what an undecryptable secret most likely means where it was stored: the key was replaced
REPLACED_KEY_ADVICE = (
    ' (was the secret key replaced? keep the old key after the new one until every secret is re-encrypted); '
    'set it again'
)


class SecretBox:
    def __init__(self, keys: Sequence[Fernet], *, advice: str | None = None) -> None:
        """`advice` ends the message of a secret these keys cannot decrypt, where the holder knows better than
        REPLACED_KEY_ADVICE (a worker: its key is not the server's)."""
        if not keys:
            raise SecretKeyInvalid('a SecretBox needs at least one key')
        self._fernet = MultiFernet(list(keys))
        self.advice = advice

    @classmethod
    def from_settings(cls, data_dir: Path, env_keys: str | None, *, advice: str | None = None) -> SecretBox:
        """Keys from `env_keys` when set (non-blank), else from the key file in `data_dir`."""
        if env_keys and env_keys.strip():
            return cls(_parse_keys(env_keys, 'the secret keys setting'), advice=advice)
        return cls(load_key_file(data_dir / KEY_FILE_NAME), advice=advice)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                f'a stored secret cannot be decrypted with the configured keys{self.advice or REPLACED_KEY_ADVICE}'
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt under the first key (after a key rotation)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable('a stored secret cannot be decrypted with the configured keys') from exc
