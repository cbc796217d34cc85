#!/usr/bin/env bash
# Write throughput of 8 concurrent writers inserting invoice items, capture off vs on, in one run.
#   A: capture off   B: capture on, app stopped   C: capture on, app draining
# Rounds alternate A, B, C so that drift of a shared machine hits all three alike; medians reported.
# Usage: bench/capture-pgbench.sh [admin-url] [seconds-per-round] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
ADMIN_URL=${1:-postgres://postgres@127.0.0.1:5432/postgres}
SECONDS_PER_ROUND=${2:-15}
ROUNDS=${3:-3}
DB=rowcast_bench_$$
URL=${ADMIN_URL%/*}/$DB
APP_PID=

cleanup() {
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null && wait "$APP_PID" 2>/dev/null || true
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
}
trap cleanup EXIT

psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" >/dev/null
[ -f dist/src/main.js ] || npm run build >/dev/null
node --input-type=module -e "
  import { runMigrations } from './dist/src/database/run-migrations.js';
  await runMigrations(process.argv[1]);" "$URL"
psql "$URL" -qc "INSERT INTO invoices (invoice_no) SELECT 'BENCH-' || g FROM generate_series(1, 100) g" >/dev/null
psql "$URL" -qAt -c "SELECT id FROM invoices ORDER BY id" > /tmp/$DB.ids
SCRIPT=/tmp/$DB.sql
cat > "$SCRIPT" <<SQL
\set n random(1, 100)
INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
  SELECT id, 1, 100 FROM invoices ORDER BY id OFFSET :n - 1 LIMIT 1;
SQL

capture() { psql "$URL" -qc "SELECT capture.$1('invoices'), capture.$1('invoice_items')" >/dev/null; }
tps() { pgbench -n -c 8 -j 2 -T "$SECONDS_PER_ROUND" -f "$SCRIPT" "$URL" 2>/dev/null | awk '/^tps/ {print int($3)}'; }
start_app() {
  DATABASE_URL=$URL PORT=0 LOG_LEVEL=info node dist/src/main.js >/tmp/$DB.app.log 2>&1 &
  APP_PID=$!
  until grep -q 'rowcast ready' /tmp/$DB.app.log; do
    kill -0 "$APP_PID" 2>/dev/null || { cat /tmp/$DB.app.log >&2; exit 1; }
    sleep 0.2
  done
}
stop_app() { kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; APP_PID=; }
backlog() { psql "$URL" -qAt -c "SELECT count(*) FROM capture.pending"; }

declare -a A B C
for r in $(seq 1 "$ROUNDS"); do
  capture disable; A+=("$(tps)")
  capture enable; B+=("$(tps)")
  # B leaves a backlog; let the app drain it before C measures steady state.
  start_app; until [ "$(backlog)" -lt 10 ]; do sleep 0.5; done
  C+=("$(tps)")
  until [ "$(backlog)" -lt 10 ]; do sleep 0.5; done
  stop_app
  echo "round $r: A=${A[-1]} B=${B[-1]} C=${C[-1]} tps" >&2
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
mA=$(median "${A[@]}"); mB=$(median "${B[@]}"); mC=$(median "${C[@]}")
echo "8 writers, invoice_items, $ROUNDS rounds of ${SECONDS_PER_ROUND}s, $(psql "$URL" -qAt -c 'SHOW server_version')"
echo "A capture off           median ${mA} tps  (${A[*]})"
echo "B capture on, app off   median ${mB} tps  (${B[*]})  B/A = $(awk "BEGIN {printf \"%.2f\", $mB/$mA}")"
echo "C capture on, draining  median ${mC} tps  (${C[*]})  C/A = $(awk "BEGIN {printf \"%.2f\", $mC/$mA}")"
