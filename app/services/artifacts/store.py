"""The artifact store: an fsspec filesystem and a root under it. `RUNBOARD_ARTIFACT_STORE` unset: the data dir's
`artifacts/` folder (local mode); `s3://bucket/prefix` (s3fs), or any fsspec URL, in team mode, so the server
and every worker reach the same files. A run's file `path` lives at `<root>/<run_id>/<path>`.

Uploads copy from an open file descriptor in chunks (never a whole file in memory), reads are streamed in chunks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.spec import AbstractBufferedFile

CHUNK = 1024 * 1024


class ArtifactStore:
    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        fs, root = url_to_fs(url, **(options or {}))
        if 'file' in _protocols(fs):
            fs = fsspec.filesystem('file', auto_mkdir=True)
            Path(root).mkdir(parents=True, exist_ok=True)
        self.fs, self.root = fs, root.rstrip('/')

    @classmethod
    def from_settings(cls, data_dir: Path, url: str | None, options: str = '') -> ArtifactStore:
        """`options`: JSON of the filesystem's keyword arguments (s3fs: `{"endpoint_url": ...}`); credentials
        come from the usual places of the backend (AWS_* variables, ~/.aws) rather than from here."""
        return cls(url or str((data_dir / 'artifacts').resolve()), json.loads(options) if options else None)

    def key(self, run_id: str, path: str) -> str:
        return f'{self.root}/{run_id}/{path}'

    def upload(self, source: IO[bytes], run_id: str, path: str) -> None:
        """All of `source` or nothing: a copy that fails (the store, or the file read) leaves no partial file where a
        download would take it for the whole (fsspec's own `with` would close, and so commit, what was written)."""
        key = self.key(run_id, path)
        out = self.fs.open(key, 'wb')
        try:
            shutil.copyfileobj(source, out, CHUNK)
        except BaseException:
            _abandon(out)
            try:
                self.fs.rm_file(key)
            except Exception:  # noqa: BLE001 - nothing was written, or the store is unreachable: the error raised is the copy's
                pass
            raise
        out.close()

    def chunks(
        self, run_id: str, path: str, chunk: int = CHUNK, *, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        """The file's bytes from `start`, `length` of them (all: None), chunk by chunk (FileNotFoundError if it is
        gone). A range is a seek: s3fs asks the bucket for those bytes alone."""
        left = length
        with self.fs.open(self.key(run_id, path), 'rb') as source:
            if start:
                source.seek(start)
            while left is None or left > 0:
                block = source.read(chunk if left is None else min(chunk, left))
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block

    def exists(self, run_id: str, path: str) -> bool:
        return bool(self.fs.exists(self.key(run_id, path)))

    def delete(self, run_id: str, paths: list[str]) -> None:
        """Remove these files of the run (those already gone are no error), then the run's folder if empty."""
        keys = [self.key(run_id, path) for path in paths]
        for key in keys:
            try:
                self.fs.rm_file(key)
            except FileNotFoundError:
                pass
        if 'file' in _protocols(self.fs):  # object stores have no folders to leave behind
            _remove_empty_dirs(Path(f'{self.root}/{run_id}'))

    def describe(self) -> str:
        """Where files go, without credentials (an URL's user info is dropped)."""
        head, sep, tail = self.url.partition('://')
        return f'{head}{sep}{tail.rpartition("@")[2]}' if sep else self.url


def _abandon(out: Any) -> None:
    """Close a file being written without committing it: an object store's buffered file aborts its multipart upload
    and sends nothing more; a local file is closed as it is (the caller removes it)."""
    if isinstance(out, AbstractBufferedFile):
        try:
            out.discard()
        finally:
            out.closed = True  # what close() would say, without its flush of the buffer
    else:
        out.close()


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _remove_empty_dirs(top: Path) -> None:
    try:  # another sweep (a second server) may be removing the same folders while this one walks them
        folders = [p for p in top.rglob('*') if p.is_dir()]
    except FileNotFoundError:
        return
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass
    try:
        top.rmdir()
    except OSError:
        pass
