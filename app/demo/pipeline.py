"""Demo pipeline: a few stages over about ten seconds. Fails on fix/flaky-test at standard depth."""

import os
import sys
import time

branch = os.environ.get('RUNBOARD_BRANCH', '?')
depth = os.environ.get('RUNBOARD_DEPTH_LEVEL', 'standard')
framework = os.environ.get('RUNBOARD_TARGET_FRAMEWORK', 'python')
pace = float(os.environ.get('DEMO_PACE', '1.0'))

fails = branch == 'fix/flaky-test' and depth == 'standard'
stages = [
    ('install', [f'resolving {framework} dependencies', 'fetched 42 packages', 'install ok']),
    ('lint', ['checking style', '0 problems']),
    (
        'test',
        [
            f'running {depth} test suite on {branch}',
            'test_login ... ok',
            'test_logout ... ok',
            'test_flaky_network ...' + (' FAILED (connection reset by peer)' if fails else ' ok'),
        ],
    ),
    ('build', ['packaging artefact', 'artefact demo-1.0.tar.gz written']),
]
for name, lines in stages:
    print(f'::stage:: {name}', flush=True)
    for line in lines:
        time.sleep(0.6 * pace)
        print(line, flush=True)
    if name == 'test' and fails:
        print('1 failed, 2 passed', file=sys.stderr, flush=True)
        sys.exit(1)
print('pipeline finished: all stages passed', flush=True)
