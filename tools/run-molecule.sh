#!/usr/bin/env bash
# `make molecule`: every scenario named on the command line, WPZO_MOLECULE_JOBS at a time (default 2: the
# scenarios spend most of their time waiting on containers, so two share 2 cores well). Each scenario's output
# goes to build/molecule/<scenario>.log; a line per finished scenario says how long it took; the logs of the
# failed ones are printed at the end, and the exit status says whether all passed.
set -uo pipefail
# Plain text in the log files.
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=false
checkout="$(cd "$(dirname "$0")/.." && pwd)"
logs="$checkout/build/molecule"
jobs="${WPZO_MOLECULE_JOBS:-2}"
mkdir -p "$logs"
cd "$checkout" || exit 1

run_one() {
  local scenario="$1" start=$SECONDS status
  if molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1; then status=passed; else status=FAILED; fi
  echo "$status" >"$logs/$scenario.status"
  printf 'molecule scenario %-10s %-7s %5s s\n' "$scenario" "$status" $((SECONDS - start))
}
export -f run_one
export logs

rm -f "$logs"/*.status
# shellcheck disable=SC2016 # $1 is run_one's argument, expanded by the inner bash
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {}

failed=()
for scenario in "$@"; do
  [ "$(cat "$logs/$scenario.status" 2>/dev/null)" = passed ] || failed+=("$scenario")
done
for scenario in "${failed[@]}"; do
  printf '\n===== molecule scenario %s: log =====\n' "$scenario"
  cat "$logs/$scenario.log"
done
if [ "${#failed[@]}" -gt 0 ]; then echo "molecule scenarios failed: ${failed[*]}"; exit 1; fi
echo "molecule: all ${#} scenarios passed (logs in $logs)"
