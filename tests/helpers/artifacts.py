"""A repository whose run leaves artifacts: report.html, shot.png (binary), junit.xml (chosen by the depth
level: `shallow` fails test_a and test_b, `deep` fails test_b only), and with `standard` also big.bin, over a
small limit. The files are in the repository, so a test compares downloads byte for byte with them."""

from __future__ import annotations

import html
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from tests.helpers.repos import make_repo


def png(width: int = 240, height: int = 120) -> bytes:
    """A real PNG (a colour gradient with a red stripe: a stand-in for a failed test's screenshot)."""
    rows = b''.join(
        b'\x00'
        + b''.join(
            bytes((230, 60, 60) if 50 <= y < 70 else (x * 255 // width, y * 255 // height, 160)) for x in range(width)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')


PNG = png()
HTML = '<!doctype html><html><body><h1>Coverage 87%</h1><script>document.title="report"</script></body></html>\n'


def junit(*, a_fails: bool) -> str:
    a = (
        '<testcase classname="tests.test_api" name="test_a" time="0.5">'
        '<failure message="assert 401 == 200">def test_a():\n&gt;   assert 401 == 200\nE   assert 401 == 200</failure>'
        '</testcase>'
        if a_fails
        else '<testcase classname="tests.test_api" name="test_a" time="0.5"/>'
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="5">'
        f'{a}'
        '<testcase classname="tests.test_api" name="test_b" time="1.25"><error message="KeyError: \'x\'">'
        "Traceback (most recent call last):\nKeyError: 'x'</error></testcase>"
        '<testcase classname="tests.test_api" name="test_c" time="0.01"/>'
        '<testcase classname="tests.test_db" name="test_d" time="2.5"/>'
        '<testcase classname="tests.test_db" name="test_e" time="0"><skipped message="needs postgres"/></testcase>'
        '</testsuite></testsuites>\n'
    )


SCRIPT = """#!/bin/sh
set -eu
echo "artifacts go to $RUNBOARD_ARTIFACTS_DIR"
mkdir -p "$RUNBOARD_ARTIFACTS_DIR/screens"
cp fixtures/report.html "$RUNBOARD_ARTIFACTS_DIR/report.html"
cp fixtures/shot.png "$RUNBOARD_ARTIFACTS_DIR/screens/shot.png"
case "$RUNBOARD_DEPTH_LEVEL/${TEST_A_PASSES:-}" in  # a run variable TEST_A_PASSES=yes: as a flaky test, once
  deep/*|*/yes) cp fixtures/junit-a-passes.xml "$RUNBOARD_ARTIFACTS_DIR/junit.xml" ;;
  *) cp fixtures/junit-a-fails.xml "$RUNBOARD_ARTIFACTS_DIR/junit.xml" ;;
esac
if [ "$RUNBOARD_DEPTH_LEVEL" = standard ]; then
  head -c 300000 /dev/zero > "$RUNBOARD_ARTIFACTS_DIR/big.bin"
  ln -s /etc/passwd "$RUNBOARD_ARTIFACTS_DIR/passwd-link"
fi
exit 1
"""


def artifact_repo(path: Path) -> Path:
    return add_fixtures(make_repo(path, {'main': {'run.sh': SCRIPT}}))


def add_fixtures(repo: Path) -> Path:
    """The script and its files on the repository's main branch, committed."""
    (repo / 'run.sh').write_text(SCRIPT)
    (repo / 'fixtures').mkdir(exist_ok=True)
    (repo / 'fixtures' / 'report.html').write_text(HTML)
    (repo / 'fixtures' / 'shot.png').write_bytes(PNG)
    (repo / 'fixtures' / 'junit-a-fails.xml').write_text(junit(a_fails=True))
    (repo / 'fixtures' / 'junit-a-passes.xml').write_text(junit(a_fails=False))
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']
    subprocess.run(['git', 'add', '-A'], cwd=repo, check=True, capture_output=True)
    subprocess.run(['git', *ident, 'commit', '-q', '-m', 'fixtures'], cwd=repo, check=True, capture_output=True)
    return repo


def expected(repo: Path) -> dict[str, bytes]:
    return {
        'report.html': (repo / 'fixtures' / 'report.html').read_bytes(),
        'screens/shot.png': (repo / 'fixtures' / 'shot.png').read_bytes(),
        'junit.xml': (repo / 'fixtures' / 'junit-a-fails.xml').read_bytes(),
    }


def add_fixing_branch(repo: Path, branch: str) -> Path:
    """`branch` off main, one commit on: its run passes test_a at every depth level (test_b still fails)."""
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']

    def git(*args: str) -> None:
        subprocess.run(['git', *ident, *args], cwd=repo, check=True, capture_output=True)

    git('checkout', '-q', '-b', branch, 'main')
    fixed = SCRIPT.replace('*) cp fixtures/junit-a-fails.xml', '*) cp fixtures/junit-a-passes.xml')
    (repo / 'run.sh').write_text(fixed)
    git('commit', '-q', '-am', 'fix test_a')
    git('checkout', '-q', 'main')
    return repo


# Artifact names that close a props string's quoted value and add props of their own (`:y` is run as JavaScript):
# kept without a preview, kept as text (its preview is named by it), kept as an image (its alt), and refused for its
# trailing backslash (still listed, by its name).
HOSTILE_NAMES = {
    'plain': 'x" :y="window.__rbxss=1" z',
    'text': 't" :y="window.__rbxss=3" z.txt',
    'image': 'i" :y="window.__rbxss=4" z.png',
    'refused': 'b" :y="window.__rbxss=2" \\',
}
# single quotes: the shell takes `"` and `\` in them as they are
HOSTILE_SCRIPT = f"""#!/bin/sh
set -eu
top="$PWD"
cd "$RUNBOARD_ARTIFACTS_DIR"
printf 'no preview' > '{HOSTILE_NAMES['plain']}'
printf 'a text preview' > '{HOSTILE_NAMES['text']}'
cp "$top/fixtures/shot.png" '{HOSTILE_NAMES['image']}'
printf 'refused' > '{HOSTILE_NAMES['refused']}'
"""


def add_hostile_branch(repo: Path, branch: str) -> Path:
    """`branch` off main: its run leaves the artifacts of HOSTILE_NAMES and succeeds."""
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']

    def git(*args: str) -> None:
        subprocess.run(['git', *ident, *args], cwd=repo, check=True, capture_output=True)

    git('checkout', '-q', '-b', branch, 'main')
    (repo / 'run.sh').write_text(HOSTILE_SCRIPT)
    git('commit', '-q', '-am', 'artifacts with hostile names')
    git('checkout', '-q', 'main')
    return repo


# markup after a line of ``` (ui.code's own fence): shown as text in a preview and in a test's trace, never drawn
FENCED_MARKUP = (
    '```\n<h1 id="rb-injected">Session expired</h1><form id="rb-phish" action="https://evil.example/"></form>'
)
FENCE_SCRIPT = f"""#!/bin/sh
set -eu
cd "$RUNBOARD_ARTIFACTS_DIR"
cat > notes.txt <<'END'
before
{FENCED_MARKUP}
END
cat > junit.xml <<'END'
<testsuite name="s" tests="1" failures="1"><testcase classname="c" name="test_fenced"><failure message="m">trace
{html.escape(FENCED_MARKUP)}</failure></testcase></testsuite>
END
"""


def add_fence_branch(repo: Path, branch: str) -> Path:
    """`branch` off main: its run leaves notes.txt and a JUnit failure whose trace hold FENCED_MARKUP."""
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']

    def git(*args: str) -> None:
        subprocess.run(['git', *ident, *args], cwd=repo, check=True, capture_output=True)

    git('checkout', '-q', '-b', branch, 'main')
    (repo / 'run.sh').write_text(FENCE_SCRIPT)
    git('commit', '-q', '-am', 'artifacts holding a code fence')
    git('checkout', '-q', 'main')
    return repo


# a test module whose failing test prints (in colour), writes to stderr and logs; its passing test prints too
PRINTING_TESTS = """import logging
import sys


def test_quiet_pass():
    print("nobody reads a passing test's output")


def test_prints_then_fails():
    print("x" * 40000)
    print("\\x1b[31mretrying the db\\x1b[0m")
    print("last line before the failure")
    print("warning: retrying", file=sys.stderr)
    logging.getLogger("app").warning("slow query")
    assert 401 == 200
"""


def pytest_junit(folder: Path) -> str:
    """The JUnit XML that pytest itself writes (`--junitxml`, `-o junit_logging=all`) for PRINTING_TESTS."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'test_printing.py').write_text(PRINTING_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'COV_'))}
    subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-p', 'no:randomly', '--rootdir', str(folder),
         '-c', os.devnull, '--junitxml', str(folder / 'junit.xml'), '-o', 'junit_logging=all', 'test_printing.py'],
        cwd=folder, env=env, capture_output=True, check=False,
    )  # fmt: skip
    return (folder / 'junit.xml').read_text()


# A run that writes a project secret (API_TOKEN) and a value it declared with ::add-mask:: into its JUnit report,
# through a failing pytest test (its parametrized name, its assertion message, its captured stdout:
# `-o junit_logging=all`), and into its summary; the 101st ::add-mask:: value is past the cap. $PYTHON is a Python with
# pytest that the sandbox shows.
SECRET = 'tok-5ecret-Zq81'
DECLARED = 'declared-by-the-run-77'  # an ::add-mask:: value
PAST_CAP = 'capped-value-101'  # the 101st ::add-mask:: value: not masked, in the log or the files

SECRET_TESTS = """import os

import pytest


@pytest.mark.parametrize('token', [os.environ['API_TOKEN']])
def test_login(token):
    print(f'logging in with {token} as {os.environ["DECLARED"]}')
    print(f'and {os.environ["PAST_CAP"]}')
    assert token == 'the-right-one', f'the server refused {token}'
"""

SECRET_SCRIPT = f"""#!/bin/sh
echo '::add-mask::{DECLARED}'
i=1
while [ $i -le 99 ]; do echo "::add-mask::filler-value-$i"; i=$((i + 1)); done
echo '::add-mask::{PAST_CAP}'
echo "the log: $API_TOKEN {DECLARED} {PAST_CAP}"
DECLARED='{DECLARED}' PAST_CAP='{PAST_CAP}' "$PYTHON" -m pytest -q -p no:cacheprovider -p no:randomly \\
  -o junit_logging=all --junitxml "$RUNBOARD_ARTIFACTS_DIR/junit.xml" test_login.py
echo 'named after it' > "$RUNBOARD_ARTIFACTS_DIR/report-$API_TOKEN.txt"
printf '### Deploy\\nused `%s` for {DECLARED}, and {PAST_CAP}\\n' "$API_TOKEN" >> "$RUNBOARD_SUMMARY"
exit 1
"""
