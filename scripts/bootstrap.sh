#!/usr/bin/env bash
# Create .venv (if needed) and install Runboard into it, with optional extras: bootstrap.sh [test|native]
# With the test extra, also axe-core from npm into tests/e2e/axe/node_modules (the accessibility E2E test injects it).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

PY=${PYTHON:-python3}
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  apt_install python3-venv
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e "$spec"
case ",$extras," in
  *,test,*)  # the exact version of package-lock.json (npm: Debian's nodejs/npm, scripts/doctor.sh test)
    npm ci --prefix tests/e2e/axe --no-audit --no-fund --loglevel=error ;;
esac
