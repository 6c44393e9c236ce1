from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from app.infra.secret_box import KEY_FILE_NAME, SecretBox, SecretKeyInvalid, SecretUnreadable


@pytest.mark.parametrize('plain', ['ghp_token123', '', 'ünïcødé ✓', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n' * 40])
def test_round_trip(tmp_path: Path, plain: str) -> None:
    box = SecretBox.from_settings(tmp_path, None)
    token = box.encrypt(plain)
    assert plain == '' or plain not in token
    assert box.decrypt(token) == plain
    assert SecretBox.from_settings(tmp_path, None).decrypt(token) == plain  # the key file is reused


def test_key_file_is_private(tmp_path: Path) -> None:
    SecretBox.from_settings(tmp_path / 'data', None)
    key_file = tmp_path / 'data' / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [KEY_FILE_NAME]  # no temp file left


def test_env_keys_win_over_the_key_file(tmp_path: Path) -> None:
    key = SecretBox.generate_key()
    token = SecretBox.from_settings(tmp_path, key).encrypt('s')
    assert not (tmp_path / KEY_FILE_NAME).exists()
    with pytest.raises(SecretUnreadable):
        SecretBox.from_settings(tmp_path, None).decrypt(token)
    assert SecretBox.from_settings(tmp_path, f' {key} ').decrypt(token) == 's'


def test_rotation_new_key_first_reads_old_tokens_and_rotate_moves_them(tmp_path: Path) -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    old_token = SecretBox.from_settings(tmp_path, old).encrypt('secret')
    both = SecretBox.from_settings(tmp_path, f'{new},{old}')
    assert both.decrypt(old_token) == 'secret'
    new_token = both.encrypt('secret')
    assert SecretBox.from_settings(tmp_path, new).decrypt(new_token) == 'secret'
    with pytest.raises(SecretUnreadable):
        SecretBox.from_settings(tmp_path, old).decrypt(new_token)
    rotated = both.rotate(old_token)
    assert SecretBox.from_settings(tmp_path, new).decrypt(rotated) == 'secret'


@pytest.mark.parametrize('token', ['not-a-token', ''])
def test_wrong_key_or_garbage_is_a_clear_error(tmp_path: Path, token: str) -> None:
    other = SecretBox.from_settings(tmp_path / 'other', None).encrypt('secret')
    box = SecretBox.from_settings(tmp_path / 'mine', None)
    for stored in (other, token):
        with pytest.raises(SecretUnreadable, match='cannot be decrypted with the configured keys'):
            box.decrypt(stored)


VALID_KEY = 'UY4LlQJRFk_x4KHXaFAwdd1SYkEBxME07bivnm9JAEg='  # fixed, not generated: it is part of a test id


@pytest.mark.parametrize(
    ('env', 'message'),
    [
        ('not-a-key', 'key 1 of the secret keys setting is not a Fernet key'),
        (f'{VALID_KEY},not-a-key', 'key 2 of the secret keys setting'),
        (' , ', 'the secret keys setting holds no key'),
        ('  ', None),  # blank: the key file is used
    ],
)
def test_invalid_env_keys_are_refused_without_echoing_them(tmp_path: Path, env: str, message: str | None) -> None:
    if message is None:
        assert SecretBox.from_settings(tmp_path, env).decrypt(SecretBox.from_settings(tmp_path, None).encrypt('x'))
        return
    with pytest.raises(SecretKeyInvalid, match=message) as info:
        SecretBox.from_settings(tmp_path, env)
    assert 'not-a-key' not in str(info.value)


def _open_box(data_dir: str, barrier: Barrier, results: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    box = SecretBox.from_settings(Path(data_dir), None)
    results.put(box.encrypt('from another process'))


def test_concurrent_creation_from_processes_ends_with_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context('spawn')
    for attempt in range(3):
        data_dir = tmp_path / f'data{attempt}'
        n = 4
        barrier = ctx.Barrier(n)
        results: multiprocessing.Queue[str] = ctx.Queue()
        procs = [ctx.Process(target=_open_box, args=(str(data_dir), barrier, results)) for _ in range(n)]
        for proc in procs:
            proc.start()
        tokens = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
        box = SecretBox.from_settings(data_dir, None)  # the key that won
        assert [box.decrypt(token) for token in tokens] == ['from another process'] * n
        assert [p.name for p in data_dir.iterdir()] == [KEY_FILE_NAME]
        assert len((data_dir / KEY_FILE_NAME).read_text().split()) == 1
