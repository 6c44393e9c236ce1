"""A run's artifacts as one zip (services/artifacts/archive.py): how each member is compressed, its time, and that
the archive is streamed as it is built, from a real local store."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.models.artifacts import Artifact
from app.services.artifacts.archive import compression_for, member_time, zip_chunks
from app.services.artifacts.store import ArtifactStore


@pytest.mark.parametrize(
    ('path', 'content_type', 'expected'),
    [
        ('screens/shot.png', 'image/png', zipfile.ZIP_STORED),
        ('photo.JPG', 'application/octet-stream', zipfile.ZIP_STORED),  # by its name when the type says nothing
        ('dist/app-1.0.tar.gz', 'application/gzip', zipfile.ZIP_STORED),
        ('dist/app-1.0-py3-none-any.whl', 'application/octet-stream', zipfile.ZIP_STORED),
        ('e2e/video.webm', 'video/webm', zipfile.ZIP_STORED),
        ('report.html', 'text/html', zipfile.ZIP_DEFLATED),
        ('junit.xml', 'application/xml', zipfile.ZIP_DEFLATED),
        ('coverage.json', 'application/json', zipfile.ZIP_DEFLATED),
        ('big.bin', 'application/octet-stream', zipfile.ZIP_DEFLATED),
        ('zipped.txt', 'text/plain', zipfile.ZIP_DEFLATED),  # "zip" in the name is not a .zip
    ],
)
def test_compression_for(path: str, content_type: str, expected: int) -> None:
    assert compression_for(path, content_type) == expected


@pytest.mark.parametrize(
    ('moment', 'expected'),
    [
        (datetime(2026, 11, 26, 23, 59, 58), (2026, 11, 26, 23, 59, 58)),  # naive: UTC already (as stored)
        (datetime(2026, 11, 27, 1, 0, 0, tzinfo=timezone(timedelta(hours=2))), (2026, 11, 26, 23, 0, 0)),
        (datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC), (2026, 1, 1, 0, 0, 0)),
        (datetime(1970, 1, 1, 0, 0, 0), (1980, 1, 1, 0, 0, 0)),  # the format starts in 1980
    ],
)
def test_member_time(moment: datetime, expected: tuple[int, ...]) -> None:
    assert member_time(moment) == expected


def test_the_archive_streams_each_file_as_it_is_read(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / 'store'))
    files = {
        'a/report.html': ('text/html', b'<h1>coverage</h1>\n' * 50_000),
        'b/noise.bin': ('application/octet-stream', os.urandom(3 * 1024 * 1024)),  # three store chunks
        'c/empty.txt': ('text/plain', b''),
    }
    rows = []
    for path, (content_type, body) in files.items():
        store.upload(io.BytesIO(body), 'run_1', path)
        rows.append(
            Artifact(
                run_id='run_1',
                path=path,
                size=len(body),
                content_type=content_type,
                stored=True,
                created_at=datetime(2026, 11, 26, 12, 0, 0),
            )
        )
    chunks = list(zip_chunks(store, 'run_1', rows))
    # handed on while it is built: about one piece per chunk read, none holding a whole large file
    assert len(chunks) >= 5
    assert max(len(chunk) for chunk in chunks) < 2 * 1024 * 1024
    with zipfile.ZipFile(io.BytesIO(b''.join(chunks))) as archive:
        assert archive.testzip() is None
        assert {info.filename: archive.read(info) for info in archive.infolist()} == {
            path: body for path, (_, body) in files.items()
        }
        assert archive.getinfo('a/report.html').compress_size < len(files['a/report.html'][1]) // 10
        assert all(info.date_time == (2026, 11, 26, 12, 0, 0) for info in archive.infolist())
