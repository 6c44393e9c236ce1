#!/usr/bin/env bash
# The team backend the suite runs on in CI: PostgreSQL (trust auth on 127.0.0.1, database `test`), Redis
# and RabbitMQ (the Celery executor's second broker) on 127.0.0.1. Starts them if installed but stopped; on a machine where this script had to
# install PostgreSQL itself (scripts/doctor.sh --install ci), it also creates the `test` database and
# lets 127.0.0.1 in without a password. Exit 1 if either still does not answer.
set -euo pipefail
cd "$(dirname "$0")/.."

answers() { "${PYTHON:-python3}" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; }
pg_cluster() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n1; }

if ! answers 5432 && command -v pg_ctlcluster >/dev/null; then
  version=$(pg_cluster)
  if [ -n "$version" ]; then
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      # A cluster this machine's tests own: the suite connects as postgres without a password.
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 20); do answers 5432 && break; sleep 0.5; done
    if answers 5432; then
      su postgres -c "psql -h 127.0.0.1 -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
        || su postgres -c "createdb -h 127.0.0.1 test" || true
    fi
  fi
fi
if ! answers 6379 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/runboard-ci-redis.log || true
fi
if ! answers 5672 && command -v rabbitmq-server >/dev/null; then
  rabbitmq-server -detached || true  # the Celery executor's tests also run on RabbitMQ (guest/guest)
fi
for _ in $(seq 1 30); do answers 5432 && answers 6379 && break; sleep 1; done
for _ in $(seq 1 30); do answers 5672 && break; sleep 1; done
answers 5432 || { echo "PostgreSQL does not answer on 127.0.0.1:5432 (apt-get install postgresql)" >&2; exit 1; }
answers 6379 || { echo "Redis does not answer on 127.0.0.1:6379 (apt-get install redis-server)" >&2; exit 1; }
answers 5672 || { echo "RabbitMQ does not answer on 127.0.0.1:5672 (apt-get install rabbitmq-server)" >&2; exit 1; }
echo "PostgreSQL, Redis and RabbitMQ answer on 127.0.0.1."
