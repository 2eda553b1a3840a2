#!/usr/bin/env bash
# make bench-converge: the whole-server run, timed. playbooks/site.yml with the demo inventory (inventories/demo,
# the WordPress archive make demo installs) on a fresh container of the test image named wpzo-bench-converge
# (the machine's cores and memory), twice: the first provisioning, then a run with nothing to change. Prints both
# times, the tasks each ran, the round trips to the server (each command the connection starts in the container:
# one per module call with pipelining, a figure the machine's load does not change; counted from Docker's events,
# whichever connection plugin the inventory uses), and the slowest tasks and roles of each
# (ansible.posix.profile_tasks, profile_roles; whole profiles in build/bench-converge/*.log). Exits non-zero only
# when it could not run. Last, the cost of one module call on this machine (the mean of 20 `ping` tasks through the
# inventory's connection and become): the figure to scale the times by when comparing machines.
# WPZO_BENCH_KEEP=1 leaves the container running, to profile a run again:
#   tools/bench-converge.sh nochange    (one more no-change run on the kept container)
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
checkout="$PWD"
read -r archive version <<<"$(bench_wordpress)"
container=wpzo-bench-converge
work="$checkout/build/bench-converge"
mkdir -p "$work"
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,ansible.posix.profile_roles
export PROFILE_TASKS_TASK_OUTPUT_LIMIT=all PROFILE_TASKS_SORT_ORDER=descending

run() { # label: one site.yml run; prints its seconds
  local label="$1" start end events
  # Each round trip is an exec in the container, whether through the docker CLI or the API: Docker's events list
  # every exec started, from now until the run ends.
  docker events --filter "container=$container" --filter event=exec_start --format '{{.Action}}' \
    > "$work/$label.calls" &
  events=$!
  start=$(date +%s.%N)
  # The demo inventory, pointed at this container, with its own credential store (the demo's stays untouched).
  ansible-playbook -i inventories/demo playbooks/site.yml -e "ansible_host=$container" \
    -e "wpzo_credentials_dir=$work/credentials" \
    -e "sites_wordpress_version=$version" -e "sites_wordpress_src=$archive" > "$work/$label.log" 2>&1 \
    || { echo "bench-converge: the $label run failed, see $work/$label.log" >&2; tail -30 "$work/$label.log" >&2
         kill "$events"; exit 1; }
  end=$(date +%s.%N)
  kill "$events"
  python3 -c "print(f'{$end - $start:.1f}')"
}
recap() { # label: the PLAY RECAP counts of that run
  sed -n 's/^wpzo-demo *: *//p' "$work/$1.log" | tr -s ' '
}
slowest() { # label, how many: the slowest tasks of that run, then every role's total
  echo "slowest tasks ($1):"
  sed -n '/^TASKS RECAP/,/^ROLES RECAP/p' "$work/$1.log" | grep -E ' -+ +[0-9.]+s$' | sed -n "1,$2s/^/  /p"
  echo "roles ($1):"
  sed -n '/^ROLES RECAP/,$p' "$work/$1.log" | grep -E ' -+ +[0-9.]+s$' | sed 's/ -\+ / /; s/^/  /'
}
call_cost() { # the mean seconds of one ping task (become, the demo's connection), the first one left out
  local playbook="$work/ping.yml" i
  { echo '- hosts: all'; echo '  gather_facts: false'; echo '  become: true'; echo '  tasks:'
    for i in $(seq 21); do echo "    - {name: ping $i, ansible.builtin.ping: }"; done; } > "$playbook"
  ansible-playbook -i inventories/demo "$playbook" -e "ansible_host=$container" > "$work/ping.log" 2>&1 \
    || { echo "bench-converge: the ping run failed, see $work/ping.log" >&2; exit 1; }
  sed -n '/^TASKS RECAP/,$p' "$work/ping.log" | grep -E '^ping ([2-9]|1[0-9]|2[01]) ' \
    | awk '{ sub("s$", "", $NF); total += $NF } END { printf "%.2f", total / NR }'
}

labels=(first nochange)
if [ "${1:-}" = nochange ]; then
  labels=(nochange)
  bench_server "$container" --reuse
else
  bench_server "$container"
fi

declare -A seconds
for label in "${labels[@]}"; do
  echo "bench-converge: site.yml, $label run..." >&2
  seconds[$label]=$(run "$label")
done
grep -q 'changed=0 ' "$work/nochange.log" || echo "bench-converge: warning: the no-change run changed something" >&2

printf '\n%s\n' "bench-converge (playbooks/site.yml, inventories/demo; $(bench_machine); load $(cut -d' ' -f1-3 /proc/loadavg))"
for label in "${labels[@]}"; do
  printf '%-10s %7s s %5s round trips   %s\n' "$label" "${seconds[$label]}" "$(wc -l < "$work/$label.calls")" "$(recap "$label")"
done
printf 'one module call (ping, 20 tasks): %s s on this machine (the issue measured 0.27 s)\n' "$(call_cost)"
for label in "${labels[@]}"; do
  echo
  slowest "$label" 15
done
