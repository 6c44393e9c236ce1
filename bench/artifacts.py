"""Artifact upload and download throughput through the artifact store (fsspec), and the parse time of a
10,000-test JUnit file (junitparser). Prints figures; asserts nothing.

    python bench/artifacts.py [--mb 64] [--repeat 3] [--no-s3]

Stores: the local store (a folder, as in local mode) and S3 through s3fs against moto's server on loopback
(`python -m moto.server`, the test extra): a real S3 REST API, but on this machine, so its figure is the cost of
the client stack and the HTTP round trips, not of a network. Upload copies from an open file in 1 MB chunks
(as the collector does); download streams the chunks the API would answer."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.artifacts.junit import parse_reports  # noqa: E402
from app.services.artifacts.store import ArtifactStore  # noqa: E402


def junit_file(path: Path, tests: int) -> None:
    with open(path, 'w') as out:
        out.write(f'<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="bench" tests="{tests}">\n')
        for i in range(tests):
            name = f'test_case_{i}'
            if i % 50 == 0:
                out.write(
                    f'<testcase classname="tests.test_mod{i // 100}" name="{name}" time="0.{i % 997:03d}">'
                    f'<failure message="assert {i} == {i + 1}">Traceback (most recent call last):\n'
                    f'  File "tests/test_mod.py", line {i}, in {name}\n    assert {i} == {i + 1}\nAssertionError'
                    '</failure></testcase>\n'
                )
            elif i % 97 == 0:
                out.write(
                    f'<testcase classname="tests.test_mod{i // 100}" name="{name}" time="0"><skipped/></testcase>\n'
                )
            else:
                out.write(f'<testcase classname="tests.test_mod{i // 100}" name="{name}" time="0.{i % 997:03d}"/>\n')
        out.write('</testsuite></testsuites>\n')


def throughput(store: ArtifactStore, source: Path, repeat: int) -> tuple[float, float]:
    size_mb = source.stat().st_size / 1024 / 1024
    ups, downs = [], []
    for i in range(repeat):
        started = time.perf_counter()
        with open(source, 'rb') as f:
            store.upload(f, f'run_bench{i}', 'blob.bin')
        ups.append(size_mb / (time.perf_counter() - started))
        started = time.perf_counter()
        total = sum(len(chunk) for chunk in store.chunks(f'run_bench{i}', 'blob.bin'))
        downs.append(size_mb / (time.perf_counter() - started))
        assert total == source.stat().st_size
        store.delete(f'run_bench{i}', ['blob.bin'])
    return statistics.median(ups), statistics.median(downs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--mb', type=int, default=64)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--tests', type=int, default=10_000)
    parser.add_argument('--no-s3', action='store_true')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blob = folder / 'blob.bin'
        with open(blob, 'wb') as out:
            for _ in range(args.mb):
                out.write(os.urandom(1024 * 1024))
        print(f'artifact of {args.mb} MB, median of {args.repeat}:')
        local = ArtifactStore(str(folder / 'store'))
        up, down = throughput(local, blob, args.repeat)
        print(f'  local store   upload {up:8.1f} MB/s   download {down:8.1f} MB/s')
        if not args.no_s3:
            from tests.helpers.s3 import moto_s3

            with moto_s3() as s3:
                store = ArtifactStore(s3.url, json.loads(s3.options))
                up, down = throughput(store, blob, args.repeat)
            print(f'  S3 (moto)     upload {up:8.1f} MB/s   download {down:8.1f} MB/s')
        report = folder / 'junit.xml'
        junit_file(report, args.tests)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            parsed = parse_reports([('junit.xml', report)])
            times.append(time.perf_counter() - started)
        t = parsed.totals
        print(
            f'JUnit parse of {t.total:,} tests ({report.stat().st_size / 1024 / 1024:.1f} MB; {t.failed} failed, '
            f'{t.skipped} skipped): median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms'
        )


if __name__ == '__main__':
    main()
