#!/usr/bin/env bash
# Every external program (and system library) that the app, the tests and the benches use, with the
# Debian package that provides it. Prints what is there and what is missing.
#
#   bash scripts/doctor.sh                 check all groups, install nothing
#   bash scripts/doctor.sh --install app test ci    install what those groups miss (apt-get)
#
# Groups: app (running Runboard), native (the desktop window), test (the suite), ci (the team
# backend services the suite must reach in CI), bench (benchmarks). Exit 1 if a program of a
# requested group is still missing afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

# group | kind (bin = a program on PATH, lib = a Debian package) | name | Debian package | used by
REQUIREMENTS='
app    | bin | git            | git                 | gitops.py, mirror_store.py (also git daemon and git http-backend in tests/remote)
app    | bin | ssh            | openssh-client      | app/services/repositories/credentials.py: ssh:// and git@host: remotes
app    | bin | sh             | dash                | the demo and test pipelines (run.sh)
app    | bin | python3        | python3             | the app itself; runs get it as the demo pipeline
app    | bin | bwrap          | bubblewrap          | app/services/execution/sandbox.py: every run in its own namespaces (docs/security.md)
app    | py  | venv+ensurepip | python3-venv        | scripts/bootstrap.sh: .venv
native | lib | libxcb-cursor0 | libxcb-cursor0      | Qt (pywebview) desktop window on X11
native | lib | libxkbcommon-x11-0 | libxkbcommon-x11-0 | Qt desktop window on X11
native | lib | libegl1        | libegl1             | Qt desktop window
native | lib | libnss3        | libnss3             | Qt WebEngine
native | lib | libxcb-icccm4  | libxcb-icccm4       | Qt xcb platform plugin
native | lib | libxcb-keysyms1 | libxcb-keysyms1    | Qt xcb platform plugin
native | lib | libxcb-image0  | libxcb-image0       | Qt xcb platform plugin
native | lib | libxcb-render-util0 | libxcb-render-util0 | Qt xcb platform plugin
native | lib | libxcb-xinerama0 | libxcb-xinerama0  | Qt xcb platform plugin
native | lib | libxcb-randr0  | libxcb-randr0       | Qt xcb platform plugin
native | lib | libxcb-shape0  | libxcb-shape0       | Qt xcb platform plugin
native | lib | libxcb-xkb1    | libxcb-xkb1         | Qt xcb platform plugin
test   | bin | chromium       | chromium            | tests/e2e (Playwright drives Debian Chromium), bench/ui.py
test   | bin | node           | nodejs              | npm below (axe-core runs inside Chromium, not in node)
test   | bin | npm            | npm                 | scripts/bootstrap.sh test: axe-core into tests/e2e/axe (tests/e2e/test_accessibility.py)
test   | bin | Xvfb           | xvfb                | tests/e2e/test_native_window.py: a screen for the window
test   | bin | xwininfo       | x11-utils           | tests/e2e/test_native_window.py: finds the window by title
test   | bin | ssh-keygen     | openssh-client      | tests/remote/test_git_credentials.py: a real key for GIT_SSH_COMMAND
test   | bin | sleep          | coreutils           | engine tests: long-running run commands
test   | bin | pg_dump        | postgresql-client   | tests/helpers/backends.py: every team test schema copied from one migrated schema
ci     | bin | pg_ctlcluster  | postgresql          | scripts/services.sh: PostgreSQL for the team backend
ci     | bin | redis-server   | redis-server        | scripts/services.sh: Redis for the team backend
ci     | bin | rabbitmq-server | rabbitmq-server    | scripts/services.sh: RabbitMQ, the second broker of the Celery tests
bench  | bin | strace         | strace              | bench/team.py --syscalls: system calls per admission
'
# The benches' --py-spy uses py-spy from PyPI (the bench extra of pyproject.toml), not from Debian.

install=0
groups=()
for arg in "$@"; do
  case "$arg" in
    --install) install=1 ;;
    app|native|test|ci|bench) groups+=("$arg") ;;
    *) echo "usage: doctor.sh [--install] [app|native|test|ci|bench]..." >&2; exit 2 ;;
  esac
done
[ ${#groups[@]} -eq 0 ] && groups=(app native test ci)

wanted() { local g; for g in "${groups[@]}"; do [ "$g" = "$1" ] && return 0; done; return 1; }
present() {  # kind name package
  case "$1" in
    bin) command -v "$2" >/dev/null 2>&1 || [ -x "/usr/sbin/$2" ] || [ -x "/usr/bin/$2" ] ;;
    py) "${PYTHON:-python3}" -c 'import venv, ensurepip' 2>/dev/null ;;
    *) dpkg-query -W -f='${Status}' "$3" 2>/dev/null | grep -q 'install ok installed' ;;  # not 'removed, config kept'
  esac
}
trim() { local s="$1"; s="${s#"${s%%[![:space:]]*}"}"; echo "${s%"${s##*[![:space:]]}"}"; }

check() {  # prints the table, sets $missing_packages
  missing_packages=()
  while IFS='|' read -r group kind name package purpose; do
    group=$(trim "$group"); [ -z "$group" ] && continue
    kind=$(trim "$kind"); name=$(trim "$name"); package=$(trim "$package"); purpose=$(trim "$purpose")
    wanted "$group" || continue
    if present "$kind" "$name" "$package"; then state=ok; else state=MISSING; missing_packages+=("$package"); fi
    printf '  %-7s %-7s %-20s %-20s %s\n' "$state" "$group" "$name" "$package" "$purpose"
  done <<< "$REQUIREMENTS"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

echo "Runboard doctor: programs and libraries (state, group, name, Debian package, used by)"
check
if [ ${#missing_packages[@]} -gt 0 ] && [ "$install" = 1 ]; then
  mapfile -t unique < <(printf '%s\n' "${missing_packages[@]}" | sort -u)
  echo "Installing from Debian: ${unique[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${unique[@]}" >/dev/null
  check
fi
if [ ${#missing_packages[@]} -gt 0 ]; then
  mapfile -t unique < <(printf '%s\n' "${missing_packages[@]}" | sort -u)
  echo "Missing. Install with: apt-get install ${unique[*]}" >&2
  exit 1
fi
echo "All present."
