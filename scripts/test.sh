#!/usr/bin/env bash
# Install what the tests need (Python deps into .venv, Chromium from Debian) and run the whole suite:
# unit/API/engine/CLI/UI tests first, then the Playwright E2E tests in their own pytest invocation.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every program the suite calls (Chromium, Xvfb, x11-utils, Qt's X11 libraries, git, ...) is installed
# from Debian when missing; scripts/doctor.sh lists them with their packages.
groups=(app native test)
[ -n "${CI:-}" ] && groups+=(ci)
bash scripts/doctor.sh --install "${groups[@]}"
bash scripts/bootstrap.sh test,native,lint

# The code's own checks first (seconds): lint and format (ruff), types (mypy), the layer rules
# (import-linter). No line caps: a module holds one concern whole (the caps bred modules split to fit).
.venv/bin/ruff check app tests bench main.py
.venv/bin/ruff format --check app tests bench main.py
# mypy's cache outlives the clone (as a CI's cache step keeps it): a new clone is checked in seconds instead of a
# minute or two. mypy compares each file's hash with what the cache recorded, so nothing stale is ever trusted.
.venv/bin/mypy app --cache-dir "${XDG_CACHE_HOME:-$HOME/.cache}/runboard/mypy"
.venv/bin/lint-imports --no-cache

# The team backend (PostgreSQL + Redis on 127.0.0.1). In CI every backend must run: start the
# services if they are installed but stopped, and fail if they still do not answer.
if [ -n "${CI:-}" ]; then
  PYTHON=.venv/bin/python bash scripts/services.sh
fi

# The suite starts hundreds of Python processes (servers, UI processes, workers, CLI calls, pytest's own). With
# PYTHONDONTWRITEBYTECODE set (as this machine's environment sets it) none of them kept its bytecode, so each one
# compiled Runboard's ~50k lines again: about 0.6-1 s of a `python main.py` start's 4 s of CPU, and pytest's
# assertion rewriting of every test module in each process. The caches go to __pycache__ (git-ignored).
unset PYTHONDONTWRITEBYTECODE

status=0
# --durations: the slowest tests of each part are named at the end, to keep an eye on the suite's time
# Five processes, each taking the next test as it frees (worksteal): these tests mostly wait on the servers, workers
# and services they start, so three left this 2-core machine half idle (640 s; five: 390-450 s, docs/performance.md
# "The suite's time"). Each test has its own database schema, Redis prefix (so its own Celery queues) and ports, so
# they do not meet.
.venv/bin/python -m pytest -m "not e2e" -n 5 --dist worksteal --durations=15 "$@" || status=$?
e2e=0
# Two processes, a module to each (its servers start once a module): 340 s instead of 570. Two were red 3 times in 8
# before (change 16), each on a wait that ran out under the doubled load; the waits now wait as a person would,
# and `expect` as long as an action (tests/e2e/conftest.py), not Playwright's 5 s.
.venv/bin/python -m pytest -m e2e tests/e2e -n 2 --dist loadfile --durations=15 "$@" || e2e=$?
[ "$e2e" = 5 ] && e2e=0  # no E2E test collected is not a failure of its own
[ "$status" = 0 ] && status=$e2e
exit "$status"
