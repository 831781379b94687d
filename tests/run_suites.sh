#!/usr/bin/env bash
# The whole suite as three pytest processes (`make test` runs this; arguments go to every pytest):
# - tests/kube, mostly waiting on a Kubernetes API, runs beside the main suite; its output is kept in
#   test-artifacts/tests-kube.log and printed after the main suite's;
# - the browser tests run last and alone: they are CPU-bound, and Playwright's sync API keeps an event loop running.
# Fails when any of them fails; "no tests collected" (exit 5, e.g. under -k) is not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
kube_log=test-artifacts/tests-kube.log
mkdir -p test-artifacts

passed() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ]; }

"$python" -m pytest tests/kube "$@" >"$kube_log" 2>&1 &
kube_pid=$!
"$python" -m pytest --ignore=tests/browser --ignore=tests/kube "$@"; main=$?
wait "$kube_pid"; kube=$?
echo "==> tests/kube, run beside the main suite (exit $kube)"
cat "$kube_log"
"$python" -m pytest tests/browser "$@"; browser=$?

passed "$main" && passed "$kube" && passed "$browser"
