"""All of a run's kept files as one zip archive (GitHub's and GitLab's "download all"), built while it is sent:
never whole in memory or on disk. The standard library's zipfile writes to a stream it cannot seek, so each
member's sizes and checksum follow its data (a data descriptor) and the central directory comes last, as every
unzip reads it. A file that cannot be read part of the way through ends the stream, so the download fails
visibly rather than yielding an archive that lacks it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from app.models.artifacts import Artifact
from app.services.artifacts.store import ArtifactStore

# formats that are compressed already: stored as they are (deflating them again costs CPU and saves nothing)
COMPRESSED_TYPES = ('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'video/', 'audio/')
COMPRESSED_SUFFIXES = ('.zip', '.gz', '.tgz', '.bz2', '.xz', '.zst', '.7z', '.whl', '.jar', '.png', '.jpg', '.jpeg')
# zipfile must be told before a member is written whether it may pass 2 GiB (its ZIP64 extra field); deflate can
# make a file that does not compress a little larger, hence the margin
ZIP64_FROM = zipfile.ZIP64_LIMIT - (64 << 20)


def compression_for(path: str, content_type: str) -> int:
    """Pure: how a member is put in the archive: stored when it is compressed already, deflated otherwise."""
    if content_type.startswith(COMPRESSED_TYPES) or path.lower().endswith(COMPRESSED_SUFFIXES):
        return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED


def member_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """Pure: a zip member's time (UTC; the format has no zone, nor years before 1980)."""
    at = moment.astimezone(UTC) if moment.tzinfo else moment
    return max((at.year, at.month, at.day, at.hour, at.minute, at.second), (1980, 1, 1, 0, 0, 0))


class _Outbox:
    """The file zipfile writes to: it keeps what was written until the generator hands it on."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        if self.parts:
            data, self.parts = b''.join(self.parts), []
            yield data


def zip_chunks(store: ArtifactStore, run_id: str, rows: Iterable[Artifact]) -> Iterator[bytes]:
    """The archive of `rows` (kept files of the run), chunk by chunk, each member under its artifact path."""
    outbox = _Outbox()
    with zipfile.ZipFile(outbox, 'w') as archive:
        for row in rows:
            info = zipfile.ZipInfo(row.path, date_time=member_time(row.created_at))
            info.compress_type = compression_for(row.path, row.content_type)
            info.external_attr = 0o644 << 16
            with archive.open(info, 'w', force_zip64=row.size >= ZIP64_FROM) as member:
                for chunk in store.chunks(run_id, row.path):
                    member.write(chunk)
                    yield from outbox.take()
            yield from outbox.take()
    yield from outbox.take()
