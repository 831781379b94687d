#!/usr/bin/env bash
# The whole suite as five pytest processes (`make test` runs this; arguments go to every pytest):
# - the main suite in two legs side by side: the PostgreSQL leg (tests marked `postgres`) and the rest (SQLite and
#   the tests with no database); both mostly wait on their own stack, so together they take little more than one;
# - tests/kube, mostly waiting on a Kubernetes API, beside them;
# - tests/chaos (5 trials per fault), mostly waiting for killed processes to come back, beside them too;
# - the browser tests last and alone: they are CPU-bound, and Playwright's sync API keeps an event loop running.
# The logs of the legs run in the background are kept in test-artifacts/ and printed after the foreground one.
# Fails when any of them fails; "no tests collected" (exit 5, e.g. under -k) is not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
kube_log=test-artifacts/tests-kube.log
chaos_log=test-artifacts/tests-chaos.log
postgres_log=test-artifacts/tests-postgres-leg.log
mkdir -p test-artifacts

passed() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ]; }

"$python" -m pytest tests/kube "$@" >"$kube_log" 2>&1 &
kube_pid=$!
FLOWYARD_CHAOS_TRIALS="${FLOWYARD_CHAOS_TRIALS:-5}" "$python" -m pytest tests/chaos -s "$@" >"$chaos_log" 2>&1 &
chaos_pid=$!
main=(--ignore=tests/browser --ignore=tests/kube --ignore=tests/chaos)
"$python" -m pytest "${main[@]}" --leg=postgres "$@" >"$postgres_log" 2>&1 &
postgres_pid=$!
"$python" -m pytest "${main[@]}" --leg=sqlite "$@"; sqlite=$?
wait "$postgres_pid"; postgres=$?
echo "==> the PostgreSQL leg of the main suite, run beside it (exit $postgres)"
cat "$postgres_log"
wait "$kube_pid"; kube=$?
echo "==> tests/kube, run beside the main suite (exit $kube)"
cat "$kube_log"
wait "$chaos_pid"; chaos=$?
echo "==> tests/chaos, run beside the main suite (exit $chaos)"
cat "$chaos_log"
"$python" -m pytest tests/browser "$@"; browser=$?

# Last, so that a log cut in the middle still shows why a leg run in the background failed.
for log in "$postgres_log" "$kube_log" "$chaos_log"; do
  if grep -qE '^(FAILED|ERROR) ' "$log"; then
    echo "==> why $log failed (the first 40 lines of its errors)"
    grep -E '^(E  |FAILED |ERROR )' "$log" | head -n 40
  fi
done

passed "$sqlite" && passed "$postgres" && passed "$kube" && passed "$chaos" && passed "$browser"
