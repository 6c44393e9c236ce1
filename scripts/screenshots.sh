#!/usr/bin/env bash
# Refresh the README's pictures: the E2E tests, with their screenshots written to docs/screenshots instead of the
# git-ignored build/screenshots every other test run uses (tests/helpers/e2e.py, RUNBOARD_SCREENSHOTS_DIR).
# Arguments go to pytest, e.g. one file: bash scripts/screenshots.sh tests/e2e/test_run_form.py
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/doctor.sh --install app native test
bash scripts/bootstrap.sh test,native,lint
export RUNBOARD_SCREENSHOTS_DIR="$PWD/docs/screenshots"
[ $# -gt 0 ] || set -- tests/e2e
exec .venv/bin/python -m pytest -m e2e "$@"
