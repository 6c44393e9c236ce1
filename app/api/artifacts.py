"""A run's artifacts and test results, and a project's tests across runs (docs/artifacts.md).

Downloads stream from the artifact store chunk by chunk, never whole in memory. Every artifact is answered with
`Content-Security-Policy: sandbox` (a unique origin, no scripts unless allowed, no forms): an HTML report or an
SVG a run wrote opens as a page that cannot act as Runboard; a type a browser cannot show is an attachment.
A download resumes: HEAD answers the headers, `Range: bytes=…` one range (206), with an ETag for If-Range."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.core.errors import DomainError, dependency_unavailable
from app.models.artifacts import Artifact, ArtifactList, ArtifactPreview, ProjectTests, RunSummaryPublic, RunTests
from app.services.artifacts import reads
from app.services.artifacts.archive import zip_chunks
from app.services.artifacts.masked import PREVIEW_BYTES
from app.services.artifacts.store import ArtifactStore

router = APIRouter(tags=['artifacts'])
# what a browser may show inline; anything else is a download
INLINE_TYPES = (
    'image/png',
    'image/jpeg',
    'image/gif',
    'image/webp',
    'image/svg+xml',
    'text/',
    'application/json',
    'application/xml',
    'application/pdf',
)
# a run's HTML report keeps its scripts (coverage and test reports sort and fold with them), in an opaque origin:
# no cookies, no storage, no same-origin requests to Runboard, no forms, no top navigation
SANDBOX = 'sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox'


def disposition(path: str, content_type: str, *, download: bool) -> str:
    """Pure: inline for what a browser shows (images, text, HTML in its sandbox), else an attachment."""
    name = path.rsplit('/', 1)[-1]
    ascii_name = ''.join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else '_' for ch in name)
    inline = not download and (content_type.startswith(INLINE_TYPES) or content_type == 'text/html')
    kind = 'inline' if inline else 'attachment'
    return f'{kind}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}'


def _media_type(content_type: str) -> str:
    if content_type.startswith('text/') or content_type in ('application/json', 'application/xml'):
        return f'{content_type}; charset=utf-8'
    return content_type


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Pure: the (first, last) byte a `Range` header asks of a file of `size` bytes, or None to send it whole.
    One range only (several, or a header that does not parse, are ignored as RFC 9110 allows); a range that
    starts past the end raises 416 `range_not_satisfiable`."""
    if not header or not header.startswith('bytes=') or ',' in header:
        return None
    first_text, dash, last_text = header[6:].strip().partition('-')
    if not dash or (first_text and not first_text.isdigit()) or (last_text and not last_text.isdigit()):
        return None
    if not first_text:  # bytes=-N: the last N bytes
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:  # nothing to send: an empty file has no last bytes
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    first, last = int(first_text), int(last_text) if last_text else size - 1
    if first >= size:
        raise _unsatisfiable(size)
    if last < first:
        return None
    return first, min(last, size - 1)


def _unsatisfiable(size: int) -> DomainError:
    return DomainError(
        416,
        'range_not_satisfiable',
        f'the range starts past the end of the file ({size} bytes)',
        headers={'Content-Range': f'bytes */{size}'},
    )


def _opened(store: ArtifactStore, run_id: str, path: str, first: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The file's chunks, with the first already read: a file gone from the store (retention, a hand) answers
    404 and a store that is away 503, before any header is sent."""
    return _first_read(store.chunks(run_id, path, start=first, length=length), path)


def _first_read(chunks: Iterator[bytes], path: str) -> Iterator[bytes]:
    try:
        head = next(chunks, b'')
    except FileNotFoundError as exc:
        raise DomainError(404, 'artifact_missing', f'{path[:200]!r} is no longer in the artifact store') from exc
    except Exception as exc:  # s3fs/botocore or the disk: the store did not answer
        raise dependency_unavailable(
            'artifact_store', f'the artifact store did not answer: {type(exc).__name__}'
        ) from exc

    def rest() -> Iterator[bytes]:
        yield head
        yield from chunks

    return rest()


@router.get('/runs/{run_id}/artifacts', response_model=ArtifactList, responses=problems(401, 404))
async def list_artifacts(run_id: str, services: ServicesDep, principal: PrincipalDep) -> ArtifactList:
    """The files the run left in `$RUNBOARD_ARTIFACTS_DIR`: kept ones with their size, refused ones with why."""
    return await run_in_threadpool(
        reads.list_artifacts,
        services.engine,
        principal,
        run_id,
        limit_bytes=services.settings.max_artifact_bytes,
        retention_days=services.settings.artifact_retention_days,
    )


def _headers(row: Artifact, *, download: bool) -> dict[str, str]:
    return {
        'Accept-Ranges': 'bytes',
        'ETag': f'"{int(row.created_at.timestamp() * 1000):x}-{row.size:x}"',  # a kept file never changes
        'Content-Length': str(row.size),
        'Content-Disposition': disposition(row.path, row.content_type, download=download),
        'Content-Security-Policy': SANDBOX,
        'Cache-Control': 'private, max-age=3600',
    }


AsAttachment = Annotated[bool, Query(description='as an attachment, whatever its type')]


@router.get(
    '/runs/{run_id}/artifacts.zip',
    response_class=StreamingResponse,
    responses={200: {'content': {'application/zip': {}}, 'description': 'The archive'}, **problems(401, 404, 410, 503)},
)
async def download_all_artifacts(run_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Every file the run kept, in one zip archive under their paths, streamed as it is built (no
    Content-Length: it is not known before the end). A store that does not answer is 503 before the first byte; a
    file that cannot be read later ends the stream early, so the download fails rather than lacking the file."""
    rows = await run_in_threadpool(reads.kept_artifacts, services.engine, principal, run_id)
    # the first file's first bytes are read before any header is sent (its problem is still a proper answer)
    body = await run_in_threadpool(_first_read, zip_chunks(services.artifact_store, run_id, rows), rows[0].path)
    name = f'{run_id}-artifacts.zip'
    return StreamingResponse(
        body,
        media_type='application/zip',
        headers={'Content-Disposition': f'attachment; filename="{name}"', 'Cache-Control': 'private, no-store'},
    )


@router.get(
    '/runs/{run_id}/artifacts/{path:path}',
    response_class=StreamingResponse,
    responses={
        200: {'content': {'application/octet-stream': {}}, 'description': 'The bytes'},
        206: {'content': {'application/octet-stream': {}}, 'description': 'The range asked for'},
        **problems(400, 401, 404, 410, 416, 503),
    },
)
async def download_artifact(
    run_id: str,
    path: str,
    services: ServicesDep,
    principal: PrincipalDep,
    download: AsAttachment = False,
    range_header: Annotated[str | None, Header(alias='Range', description='one range: bytes=0-99, 100-, -50')] = None,
    if_range: Annotated[str | None, Header(alias='If-Range', description='the ETag the range is of')] = None,
) -> Response:
    """One artifact's bytes, streamed, byte for byte; or the range asked for (206)."""
    row = await run_in_threadpool(reads.artifact_row, services.engine, principal, run_id, path)
    headers, media_type = _headers(row, download=download), _media_type(row.content_type)
    wanted = byte_range(range_header, row.size) if if_range in (None, headers['ETag']) else None
    if wanted is None:
        body = await run_in_threadpool(_opened, services.artifact_store, run_id, row.path)
        return StreamingResponse(body, media_type=media_type, headers=headers)
    first, last = wanted
    body = await run_in_threadpool(_opened, services.artifact_store, run_id, row.path, first, last - first + 1)
    headers |= {'Content-Length': str(last - first + 1), 'Content-Range': f'bytes {first}-{last}/{row.size}'}
    return StreamingResponse(body, status_code=206, media_type=media_type, headers=headers)


@router.head('/runs/{run_id}/artifacts/{path:path}', responses=problems(400, 401, 404, 410, 503))
async def artifact_headers(
    run_id: str, path: str, services: ServicesDep, principal: PrincipalDep, download: AsAttachment = False
) -> Response:
    """What a GET of the artifact would answer, without its bytes: its size, type, ETag and that ranges work."""
    row = await run_in_threadpool(reads.artifact_row, services.engine, principal, run_id, path)
    # the store is asked too (a file gone from it is 404 here as on GET), for one byte
    await run_in_threadpool(lambda: next(_opened(services.artifact_store, run_id, row.path, 0, 1), None))
    return Response(media_type=_media_type(row.content_type), headers=_headers(row, download=download))


@router.get(
    '/runs/{run_id}/previews/{path:path}',
    response_model=ArtifactPreview,
    responses=problems(400, 401, 404, 410, 415, 503),
)
async def preview_artifact(run_id: str, path: str, services: ServicesDep, principal: PrincipalDep) -> ArtifactPreview:
    """A text artifact as the Artifacts tab shows it: its first 64 KiB as UTF-8, masked as the run's log is (the
    download is the file as the run wrote it). `checked` is false for a file kept before previews were masked."""
    row = await run_in_threadpool(reads.previewed_row, services.engine, principal, run_id, path)
    if row.preview is not None:
        return reads.preview_of(row, None)
    head = await run_in_threadpool(
        lambda: b''.join(_opened(services.artifact_store, run_id, row.path, 0, PREVIEW_BYTES))
    )
    return reads.preview_of(row, head)


@router.get('/runs/{run_id}/tests', response_model=RunTests, responses=problems(401, 404))
async def run_tests(run_id: str, services: ServicesDep, principal: PrincipalDep) -> RunTests:
    """The run's JUnit results: totals, failures (each marked across the branch's runs), skipped, slowest."""
    return await run_in_threadpool(reads.run_tests, services.engine, principal, run_id)


@router.get('/runs/{run_id}/summary', response_model=RunSummaryPublic, responses=problems(401, 404))
async def run_summary(run_id: str, services: ServicesDep, principal: PrincipalDep) -> RunSummaryPublic:
    """The summary the run wrote ($RUNBOARD_SUMMARY) as its page shows it: its first MiB, masked as its log is (the
    artifact summary.md is the file as the run wrote it). 404 `no_summary` when it wrote none."""
    return await run_in_threadpool(reads.run_summary, services.engine, principal, run_id)


@router.get('/projects/{project_id}/tests', response_model=ProjectTests, responses=problems(401, 404))
async def project_tests(
    project_id: str, services: ServicesDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> ProjectTests:
    """The project's flakiest tests (passed and failed on one commit most often) and its tests per run."""
    return await run_in_threadpool(reads.project_tests, services.engine, principal, project_id, limit=limit)
