#!/usr/bin/env bash
# Install Runboard into .venv and start it on its embedded defaults (SQLite, no Redis): http://127.0.0.1:8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/doctor.sh --install app >/dev/null
bash scripts/bootstrap.sh
RUNBOARD_OPEN_BROWSER="${RUNBOARD_OPEN_BROWSER:-true}" exec .venv/bin/python main.py "$@"
