"""Demo pipeline: a few stages over about ten seconds. Fails on fix/flaky-test at standard depth.

It leaves what a real pipeline leaves in $RUNBOARD_ARTIFACTS_DIR (docs/artifacts.md): its test report as JUnit XML
and its coverage as Cobertura XML (the run page's Tests tab, the project's coverage chart), and the package the
build stage makes (the Artifacts tab); and a Markdown summary in $RUNBOARD_SUMMARY (shown above the run's log)."""

import hashlib
import io
import os
import sys
import tarfile
import time
import xml.etree.ElementTree as ET

branch = os.environ.get('RUNBOARD_BRANCH', '?')
depth = os.environ.get('RUNBOARD_DEPTH_LEVEL', 'standard')
framework = os.environ.get('RUNBOARD_TARGET_FRAMEWORK', 'python')
artifacts = os.environ.get('RUNBOARD_ARTIFACTS_DIR')
pace = float(os.environ.get('DEMO_PACE', '1.0'))

fails = branch == 'fix/flaky-test' and depth == 'standard'
FLAKY_FAILURE = 'connection reset by peer'
tests = [('test_login', None), ('test_logout', None), ('test_flaky_network', FLAKY_FAILURE if fails else None)]


def write_test_report(directory: str, seconds: float) -> None:
    suite = ET.Element('testsuite', name=f'demo ({depth})', tests=str(len(tests)), failures=str(int(fails)))
    for name, failure in tests:
        case = ET.SubElement(suite, 'testcase', classname='tests.test_app', name=name, time=f'{seconds:.3f}')
        if failure:
            ET.SubElement(case, 'failure', message=failure).text = f'ConnectionResetError: {failure}'
    ET.indent(suite)
    ET.ElementTree(suite).write(os.path.join(directory, 'junit.xml'), encoding='utf-8', xml_declaration=True)


def write_coverage(directory: str) -> None:
    # a deeper suite covers more; the run id moves it a little, so the project's chart has a line to show
    wobble = hashlib.sha256(os.environ.get('RUNBOARD_RUN_ID', '').encode()).digest()[0] % 24
    covered = {'shallow': 712, 'standard': 801, 'deep': 874}.get(depth, 780) + wobble
    with open(os.path.join(directory, 'coverage.xml'), 'w', encoding='utf-8') as report:
        report.write(
            f'<?xml version="1.0" ?>\n<coverage version="7.6" line-rate="{covered / 1000:.4f}" '
            f'lines-covered="{covered}" lines-valid="1000"><packages/></coverage>\n'
        )


def write_summary(path: str) -> None:
    rows = ''.join(f'| `{name}` | {"failed: " + failure if failure else "passed"} |\n' for name, failure in tests)
    outcome = '1 of 3 tests failed' if fails else 'all 3 tests passed'
    with open(path, 'a', encoding='utf-8') as summary:
        summary.write(
            f'### Demo on `{branch}` ({depth}, {framework}): {outcome}\n\n| Test | Result |\n|---|---|\n{rows}'
        )


def write_package(directory: str) -> None:
    summary = f'demo 1.0 built from {branch} ({framework}, {depth})\n'.encode()
    with tarfile.open(os.path.join(directory, 'demo-1.0.tar.gz'), mode='w:gz') as package:
        info = tarfile.TarInfo('demo-1.0/BUILD')
        info.size = len(summary)
        package.addfile(info, io.BytesIO(summary))


def fetch_packages(cache: str | None) -> str:
    """What a package manager does with $RUNBOARD_CACHE_DIR (docs/pipelines.md, "Caches"): the first run of a
    cache downloads, the next ones find the packages there."""
    if not cache:
        return 'fetched 42 packages'
    lock = os.path.join(cache, f'{framework}-packages.lock')
    if os.path.exists(lock):
        return f'42 packages from the {os.path.basename(cache)} cache, nothing fetched'
    with open(lock, 'w', encoding='utf-8') as cached:
        cached.write('42 packages\n')
    return 'fetched 42 packages (kept in $RUNBOARD_CACHE_DIR for the next runs)'


print('::stage:: install', flush=True)
for line in (f'resolving {framework} dependencies', fetch_packages(os.environ.get('RUNBOARD_CACHE_DIR')), 'install ok'):
    time.sleep(0.6 * pace)
    print(line, flush=True)
print('::stage:: lint', flush=True)
for line in ('checking style', '0 problems'):
    time.sleep(0.6 * pace)
    print(line, flush=True)
print('::stage:: test', flush=True)
time.sleep(0.6 * pace)
print(f'running {depth} test suite on {branch}', flush=True)
for name, failure in tests:
    time.sleep(0.6 * pace)
    print(f'{name} ... ' + (f'FAILED ({failure})' if failure else 'ok'), flush=True)
if artifacts:
    write_test_report(artifacts, 0.6 * pace)
    write_coverage(artifacts)
if os.environ.get('RUNBOARD_SUMMARY'):
    write_summary(os.environ['RUNBOARD_SUMMARY'])
if fails:
    print('1 failed, 2 passed', file=sys.stderr, flush=True)
    sys.exit(1)
print('::stage:: build', flush=True)
time.sleep(0.6 * pace)
print('packaging artefact', flush=True)
time.sleep(0.6 * pace)
if artifacts:
    write_package(artifacts)
print('artefact demo-1.0.tar.gz written', flush=True)
print('pipeline finished: all stages passed', flush=True)
