#!/usr/bin/env bash
# Run each quality gate (a make target), keep going after a failure, and end
# with a summary of what ran, how long it took and whether it passed.
set -uo pipefail
results=()
passed=0
failed=0
start_all=$SECONDS
make --no-print-directory setup || { echo "setup failed"; exit 1; }
for gate in "$@"; do
  printf '\n===== %s =====\n' "$gate"
  start=$SECONDS
  if make --no-print-directory "$gate"; then
    status=passed; passed=$((passed + 1))
  else
    status=FAILED; failed=$((failed + 1))
  fi
  results+=("$(printf '%-20s %-7s %5ss' "$gate" "$status" $((SECONDS - start)))")
done
printf '\n===== summary (%ss) =====\n' $((SECONDS - start_all))
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
