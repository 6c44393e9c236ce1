"""CLI follow latency: a line printed by a run's command -> the same line handed to `runboard runs logs
--follow` (app.cli.follow.follow_run, the code the CLI runs), woken by the SSE change stream, and with
the stream switched off (the poll fallback alone).

    python bench/cli_follow.py [--lines 40] [--interval 0.25]

Starts the API with its services in this process (local backend, temporary data dir). The command
prints its wall-clock time on each line; the latency is the moment follow_run delivers the line minus
that time (same machine, same clock). Includes the engine's output batching. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli.follow import follow_run  # noqa: E402
from app.client import ApiError, RunboardClient, new_idempotency_key  # noqa: E402
from app.config import Settings  # noqa: E402
from tests.helpers.repos import make_repo  # noqa: E402
from tests.helpers.runs import create_project  # noqa: E402
from tests.helpers.servers import api_server  # noqa: E402

SCRIPT = """import sys, time
for i in range({lines}):
    print(f"stamp {{time.time():.6f}}", flush=True)
    time.sleep({interval})
"""


async def measure(base_url: str, token: str, *, sse: bool, branch: str) -> list[float]:
    async with RunboardClient(base_url, token) as client:
        if not sse:

            async def no_stream(**_filters):  # noqa: ANN003, ANN202
                raise ApiError(503, 'off', 'event stream switched off for this measurement')
                yield  # pragma: no cover

            client.events = no_stream  # type: ignore[method-assign]
        reply = await client.trigger_run(
            project_id='bench',
            branch=branch,
            depth_level='shallow',
            target_framework='python',
            key=new_idempotency_key(),
        )
        latencies: list[float] = []

        def on_event(event: dict) -> None:
            if event['type'] == 'output' and event['text'].startswith('stamp '):
                latencies.append(time.time() - float(event['text'].split()[1]))

        final = await follow_run(client, reply.data['id'], on_event=on_event)
        assert final['status'] == 'succeeded', final
        return latencies


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f'n={len(ordered)} median {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, '
        f'max {ordered[-1] * 1000:.0f} ms'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lines', type=int, default=40)
    parser.add_argument('--interval', type=float, default=0.25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = SCRIPT.format(lines=args.lines, interval=args.interval)
        repo = make_repo(Path(tmp) / 'repo', {'main': {'emit.py': script}, 'other': {'emit.py': script}})
        settings = Settings(data_dir=Path(tmp) / 'data', demo=False, heartbeat_seconds=1.0)
        with api_server(settings) as server, server.client() as http:
            create_project(http, repo, project_id='bench', command=[sys.executable, 'emit.py'])
            for label, sse, branch in (('SSE wake-ups', True, 'main'), ('poll fallback only', False, 'other')):
                latencies = asyncio.run(measure(server.base_url, server.token, sse=sse, branch=branch))
                print(f'{label:20s} printed -> delivered to the CLI: {summary(latencies)}')


if __name__ == '__main__':
    main()
