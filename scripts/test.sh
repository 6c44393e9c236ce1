#!/usr/bin/env bash
# Install what the tests need (Python deps into .venv, Chromium from Debian) and run the whole suite:
# unit/API/engine/CLI/UI tests first, then the Playwright E2E tests in their own pytest invocation.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Chromium for Playwright; Xvfb and Qt's X11 libraries for the native-window test.
debian_packages=(chromium xvfb x11-utils libxcb-cursor0 libxkbcommon-x11-0 libegl1 libnss3 libxcb-icccm4
  libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xkb1)
missing=()
for pkg in "${debian_packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/bootstrap.sh test,native

# The team backend (PostgreSQL + Redis on 127.0.0.1). In CI every backend must run: start the
# services if they are installed but stopped, and fail if they still do not answer.
pg_up() { .venv/bin/python -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1)' 2>/dev/null; }
redis_up() { .venv/bin/python -c 'import socket; socket.create_connection(("127.0.0.1", 6379), 1)' 2>/dev/null; }
if [ -n "${CI:-}" ]; then
  if ! pg_up && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if ! redis_up && command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/runboard-ci-redis.log || true
  fi
  for _ in $(seq 1 30); do pg_up && redis_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
  redis_up || { echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1; }
fi

status=0
.venv/bin/python -m pytest -m "not e2e" "$@" || status=$?
e2e=0
.venv/bin/python -m pytest -m e2e tests/e2e "$@" || e2e=$?
[ "$e2e" = 5 ] && e2e=0  # no E2E test collected is not a failure of its own
[ "$status" = 0 ] && status=$e2e
exit "$status"
