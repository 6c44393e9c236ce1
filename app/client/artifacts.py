"""The artifacts and tests part of the API client: a run's artifacts (listed, streamed), its test results, a
project's flakiest tests (the run page's Artifacts and Tests tabs, `runboard runs artifacts`, `runboard runs show`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx

from app.client.http import API, ApiError, answer_of
from app.core.artifact_paths import path_problem

# the headers of a download answer passed on with its bytes: what the file is, and what lets a broken download resume
# (the range an answer holds, that ranges are answered, the validator a resumed download names in If-Range)
STREAM_HEADERS = (
    'content-type',
    'content-length',
    'content-disposition',
    'content-security-policy',
    'content-range',
    'accept-ranges',
    'etag',
)


class StreamHead(NamedTuple):
    """A streamed download's answer before its bytes: 200, or 206 for a range; the headers it is passed on with."""

    status: int
    headers: dict[str, str]


Chunks = AsyncGenerator[tuple[StreamHead, bytes], None]


class ArtifactsApi:
    _http: httpx.AsyncClient

    async def request(self, method: str, path: str, *, params: dict | None = None) -> Any:  # RunboardClient.request
        raise NotImplementedError

    async def run_artifacts(self, run_id: str) -> dict:
        """GET /runs/{id}/artifacts: items (path, size, content_type, stored, refused, url), total and limit."""
        return (await self.request('GET', f'/runs/{quote(run_id, safe="")}/artifacts')).data

    async def run_tests(self, run_id: str) -> dict:
        """GET /runs/{id}/tests: totals, failures (each marked new / still_failing / flaky / failing_on_base), the
        tests it fixed, skipped, slowest."""
        return (await self.request('GET', f'/runs/{quote(run_id, safe="")}/tests')).data

    async def run_summary(self, run_id: str) -> dict | None:
        """GET /runs/{id}/summary: the summary the run wrote as its page shows it (text, size, cut), masked as its log
        is; None when it has none (or kept it before summaries were masked: then its artifact summary.md is listed)."""
        try:
            return (await self.request('GET', f'/runs/{quote(run_id, safe="")}/summary')).data
        except ApiError as exc:
            if exc.status == 404 and exc.error == 'no_summary':
                return None
            raise

    async def project_tests(self, project_id: str, *, limit: int = 10) -> dict:
        """GET /projects/{id}/tests: the flakiest tests, the test count and failures per run, the base branch's
        coverage per run."""
        path = f'/projects/{quote(project_id, safe="")}/tests'
        return (await self.request('GET', path, params={'limit': limit})).data

    def artifact_stream(
        self,
        run_id: str,
        path: str,
        *,
        download: bool = False,
        byte_range: str | None = None,
        if_range: str | None = None,
    ) -> Chunks:
        """GET /runs/{id}/artifacts/{path}, streamed: (head, chunk) pairs; the head is the same in each. With
        `byte_range` (a `Range` header's value, and `if_range` the ETag it is of, as a browser resuming a download
        sends them), the range: 206, with its Content-Range. A refusal raises the ApiError it describes before the
        first chunk (416 for a range past the end)."""
        if problem := path_problem(path):  # a `..` would be resolved into another API route, read with our token
            raise ApiError(422, 'invalid_path', f'{path!r} cannot name an artifact: {problem}')
        parts = '/'.join(quote(part, safe='') for part in path.split('/'))
        url = f'{API}/runs/{quote(run_id, safe="")}/artifacts/{parts}'
        asked = {'Range': byte_range, 'If-Range': if_range}
        headers = {name: value for name, value in asked.items() if value is not None}
        return self._stream(url, {'download': 'true'} if download else None, headers)

    def artifacts_zip_stream(self, run_id: str) -> Chunks:
        """GET /runs/{id}/artifacts.zip, every kept file in one archive, streamed as artifact_stream is (built as it
        is sent, so no range of it is answered)."""
        return self._stream(f'{API}/runs/{quote(run_id, safe="")}/artifacts.zip', None, {})

    async def _stream(self, url: str, params: dict[str, str] | None, headers: dict[str, str]) -> Chunks:
        async with self._http.stream('GET', url, params=params, headers=headers) as reply:
            if reply.status_code not in (200, 206):
                await reply.aread()
                answer_of(reply)
            passed = {name: reply.headers[name] for name in STREAM_HEADERS if name in reply.headers}
            head = StreamHead(reply.status_code, passed)
            async for chunk in reply.aiter_bytes():
                yield head, chunk

    async def artifact_preview(self, run_id: str, path: str) -> dict:
        """GET /runs/{id}/previews/{path}: a text artifact as its run's page shows it (text, cut, masked, checked):
        its first 64 KiB, masked as the run's log is; the download is the file as the run wrote it."""
        if problem := path_problem(path):
            raise ApiError(422, 'invalid_path', f'{path!r} cannot name an artifact: {problem}')
        parts = '/'.join(quote(part, safe='') for part in path.split('/'))
        return (await self.request('GET', f'/runs/{quote(run_id, safe="")}/previews/{parts}')).data
