#!/usr/bin/env bash
# make bench-monitoring: figures of the monitoring on the fleet scenario's two containers (molecule/monitoring_fleet:
# a hosting server with two sites, a monitoring host scraping it over TLS). Converges them when they do not run,
# under the scenario's lock. Prints:
#   - detection: seconds from a site losing its page to the webhook's firing notification, and from the fix to the
#     resolved one, with the scenario's test intervals, then with the roles' default intervals (at 300 sites);
#   - the resident memory of every monitoring daemon (both hosts) with the 2 sites, then with 300 sites, and their
#     sum against the 250 MiB budget;
#   - Prometheus's samples per second at 300 sites and its disk use per day, extrapolated from a measured interval.
# The 298 extra sites are real PHP sites of the server (site.yml converges the fleet with them: accounts, PHP-FPM
# pools, vhosts, a front page each), so everything that grows with the sites grows: the monitoring host's probes and
# Prometheus's series, the server's process-exporter groups (a group per pool) and PHP-FPM status metrics.
# WPZO_BENCH_DETECTION=0 leaves the detection times out (memory and disk only). Ends by removing the scenario's
# containers (molecule destroy: the server holds the 298 sites). Exits non-zero only when it could not run.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
export PATH="$PWD/.venv/bin:$PATH"
scenario=monitoring_fleet server=wpzo-fleet-server monitor=wpzo-fleet-monitor
site=fleet.example.test page=/srv/www/fleet.example.test/public/index.html
settle="${WPZO_BENCH_SETTLE:-600}"  # seconds at 300 sites (at least) before memory and disk are read
timed="${WPZO_BENCH_DETECTION:-1}"  # 0: memory and disk only (no detection times), the quicker run
log=build/bench-monitoring.log  # Molecule's output
mkdir -p build && : >"$log"
exec 9>"/tmp/wpzo-molecule-$scenario.lock"
flock 9
if ! docker exec "$monitor" systemctl is-active --quiet prometheus 2>/dev/null; then
  echo "bench-monitoring: converging molecule/$scenario (about 15 minutes)" >&2
  molecule create -s "$scenario" >>"$log" 2>&1 && molecule prepare -s "$scenario" >>"$log" 2>&1
  molecule converge -s "$scenario" >>"$log" 2>&1
fi
on() { local container=$1; shift; docker exec -i "$container" bash -c "$*"; }
query() { # PromQL -> the first sample's value, or nan
  on "$monitor" "curl -sf --get --data-urlencode 'query=$1' http://127.0.0.1:9090/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "nan")'
}
webhooks() { # number of webhook notifications naming the site alone (not the shop, whose name holds it), in state $1
  on "$monitor" "cat /srv/recorder/notifications.jsonl 2>/dev/null || true" | python3 -c '
import json, sys
state, count = sys.argv[1], 0
for line in sys.stdin:
    entry = json.loads(line)
    if entry["channel"] == "webhook":
        body = json.loads(entry["text"])
        count += body["status"] == state and body["groupLabels"].get("site") == sys.argv[2]
print(count)' "$1" "$site"
}
wait_count() { # state count-before -> seconds until one more arrived (deadline 900 s)
  local start=$SECONDS
  while [ "$(webhooks "$1")" -le "$2" ]; do
    [ $((SECONDS - start)) -gt 900 ] && { echo "bench-monitoring: no $1 notification within 900 s" >&2; exit 1; }
    sleep 1
  done
  echo $((SECONDS - start))
}
detection() { # label
  local firing resolved detect recover
  firing=$(webhooks firing) resolved=$(webhooks resolved)
  on "$server" "mv $page $page.away"
  detect=$(wait_count firing "$firing")
  on "$server" "mv $page.away $page"
  recover=$(wait_count resolved "$resolved")
  printf '  %-44s broken -> firing %4s s, fixed -> resolved %4s s\n' "$1" "$detect" "$recover"
}
converge_monitor() { # extra ansible-playbook options
  molecule converge -s "$scenario" -- --tags monitoring_server "$@" >>"$log" 2>&1 ||
    { echo "bench-monitoring: converge failed, see $log" >&2; exit 1; }
}
daemons=(wpzo-fleet-server:prometheus-node-exporter wpzo-fleet-server:prometheus-nginx-exporter
  wpzo-fleet-server:prometheus-mysqld-exporter wpzo-fleet-server:prometheus-redis-exporter
  wpzo-fleet-server:prometheus-process-exporter wpzo-fleet-monitor:prometheus wpzo-fleet-monitor:prometheus-alertmanager
  wpzo-fleet-monitor:prometheus-blackbox-exporter)
status_kib() { # container pid field -> the field of /proc/<pid>/status in KiB (RssShmem: 0 when absent)
  on "$1" "awk '\$1 == \"$3:\" {print \$2; found=1} END {if (!found) print 0}' /proc/$2/status"
}
memory() { # label: resident memory of each daemon (RSS, and its anonymous and file-backed parts) and the sums
  local total=0 anon=0 rss anon_kib file_kib pair pid
  echo "resident memory, $1 (MiB): RSS = anonymous (heap, stacks) + file-backed (the binary, mmapped files)"
  printf '  %-44s %6s %6s %6s\n' "" RSS anon file
  for pair in "${daemons[@]}"; do
    pid=$(on "${pair%%:*}" "systemctl show -p MainPID --value ${pair#*:}")
    rss=$(status_kib "${pair%%:*}" "$pid" VmRSS) anon_kib=$(status_kib "${pair%%:*}" "$pid" RssAnon)
    file_kib=$(status_kib "${pair%%:*}" "$pid" RssFile)
    printf '  %-44s %6.1f %6.1f %6.1f\n' "${pair#*:} (${pair%%:*})" "$(echo "$rss / 1024" | bc -l)" \
      "$(echo "$anon_kib / 1024" | bc -l)" "$(echo "$file_kib / 1024" | bc -l)"
    total=$((total + rss)) anon=$((anon + anon_kib))
  done
  printf '  %-44s %6.1f %6.1f (budget 250 MiB of RSS)\n' "all monitoring daemons" "$(echo "$total / 1024" | bc -l)" \
    "$(echo "$anon / 1024" | bc -l)"
  printf '  prometheus'"'"'s Go heap: %s MiB in use, %s MiB idle and not yet returned, %s MiB from the system\n' \
    "$(mib 'go_memstats_heap_inuse_bytes{job="prometheus"}')" \
    "$(mib 'go_memstats_heap_idle_bytes{job="prometheus"} - go_memstats_heap_released_bytes{job="prometheus"}')" \
    "$(mib 'go_memstats_sys_bytes{job="prometheus"}')"
  printf '  prometheus'"'"'s goroutine stacks %s MiB, CPU %s %% of a core and %s collections a minute (the last 2 minutes)\n' \
    "$(mib 'go_memstats_stack_inuse_bytes{job="prometheus"}')" \
    "$(printf '%.1f' "$(query 'rate(process_cpu_seconds_total{job="prometheus"}[2m]) * 100')")" \
    "$(printf '%.1f' "$(query 'rate(go_gc_duration_seconds_count{job="prometheus"}[2m]) * 60')")"
}
mib() { # PromQL of bytes -> MiB, one decimal
  python3 -c 'import sys; print(f"{float(sys.argv[1]) / 2**20:.1f}")' "$(query "$1")"
}

echo "bench-monitoring on molecule/$scenario ($(bench_machine), load $(cut -d' ' -f1 /proc/loadavg))"
echo "detection of a site that lost its page (SiteDown), webhook receiver:"
[ "$timed" = 1 ] && detection "test intervals (scrape 3 s, for 9 s, wait 15 s)"

# The roles' defaults for every interval the scenario shortens; and the fleet with the server's 300 sites: the
# scenario's two and 298 PHP sites. Only a hosting server reads wpzo_sites (the monitoring host is not one), so the
# extra var, set for every host, is the server's. It prints the intervals, for the detection's label.
defaults=$(mktemp --suffix=.json) sites300=$(mktemp --suffix=.json)
trap 'rm -f "$defaults" "$sites300"' EXIT
intervals=$(python3 - "$defaults" "$sites300" <<'PY'
import json, sys, yaml
defaults = yaml.safe_load(open("roles/monitoring_server/defaults/main.yml"))
names = ["scrape_interval", "evaluation_interval", "probe_timeout", "server_down_for", "site_down_for",
         "exporter_down_for", "group_wait", "group_interval"]
settings = {f"monitoring_server_{name}": defaults[f"monitoring_server_{name}"] for name in names}
scenario = yaml.safe_load(open("molecule/monitoring_fleet/molecule.yml"))
sites = scenario["provisioner"]["inventory"]["host_vars"]["wpzo-fleet-server"]["wpzo_sites"]
sites += [{"domain": f"bench-{n}.example.test", "kind": "php"} for n in range(298)]
json.dump(settings, open(sys.argv[1], "w"))
json.dump({**settings, "wpzo_sites": sites}, open(sys.argv[2], "w"))
print("scrape {scrape_interval}, for {site_down_for}, wait {group_wait}, group_interval {group_interval}".format(
    **{name: settings[f"monitoring_server_{name}"] for name in names}))
PY
)
converge_monitor -e "@$defaults"
sleep 60  # a few scrapes at the default interval before the first reading
memory "2 sites, default intervals"

# 298 more PHP sites on the server, each with a front page: the monitoring host probes 300 sites (and gives
# Prometheus the GOMEMLIMIT of 300 sites), the server's agent watches 300 pools.
echo "bench-monitoring: converging the fleet with 300 sites" >&2
start=$SECONDS
molecule converge -s "$scenario" -- -e "@$sites300" >>"$log" 2>&1 ||
  { echo "bench-monitoring: converge with 300 sites failed, see $log" >&2; exit 1; }
# shellcheck disable=SC2016 # the loop runs in the server's shell
on "$server" 'for n in $(seq 0 297); do
  echo "<?php echo \"Bench site $n\";" >/srv/www/bench-$n.example.test/public/index.php; done'
echo "fleet converged with 300 sites in $((SECONDS - start)) s"
reload=$SECONDS
# Prometheus's RSS every minute from the reload to the reading: whether it has settled when it is read.
timeline=$(mktemp)
trap 'rm -f "$defaults" "$sites300" "$timeline"' EXIT
(while :; do
  pid=$(on "$monitor" "systemctl show -p MainPID --value prometheus")
  echo "$((SECONDS - reload)) $(status_kib "$monitor" "$pid" VmRSS) $(status_kib "$monitor" "$pid" RssAnon)"
  sleep 60
done) >"$timeline" &
sampler=$!
sleep 60  # the new targets' first scrapes, before the measured interval
du_start=$(on "$monitor" "du -sb /var/lib/prometheus/metrics2 | cut -f1") start=$SECONDS
# The detection with the default intervals runs meanwhile, at 300 sites (the 298 probes' site stays up).
[ "$timed" = 1 ] && detection "default intervals ($intervals), 300 sites"
remaining=$((settle - (SECONDS - start)))
[ "$remaining" -gt 0 ] && sleep "$remaining"
du_end=$(on "$monitor" "du -sb /var/lib/prometheus/metrics2 | cut -f1") elapsed=$((SECONDS - start))
kill "$sampler"
echo "prometheus's RSS (anonymous) in MiB, minutes after the 298 sites were added:"
awk '{printf "  %d min %.1f (%.1f)\n", $1 / 60, $2 / 1024, $3 / 1024}' "$timeline" | paste -sd' ' | fold -s -w 116
up=$(query 'count(probe_success{job="sites"} == 1)')
rate=$(query 'rate(prometheus_tsdb_head_samples_appended_total[2m])')
series=$(query 'prometheus_tsdb_head_series')
memory "$(printf '%.0f' "$up") sites probed and up, default intervals"
python3 - "$rate" "$series" "$du_start" "$du_end" "$elapsed" <<'PY'
import sys
rate, series, start, end, elapsed = (float(value) for value in sys.argv[1:])
print(f"prometheus at 300 sites: {rate:.0f} samples/s, {series:.0f} head series")
print(f"  disk per day, extrapolated from {elapsed:.0f} s of its data folder (the write-ahead log, snappy-compressed: Prometheus's default):"
      f" {(end - start) / elapsed * 86400 / 2**20:.0f} MiB")
print(f"  disk per day once compacted, at 1.5 B/sample (Prometheus's typical figure): {rate * 1.5 * 86400 / 2**20:.0f} MiB")
PY

echo "bench-monitoring: removing the scenario's containers (the server holds the 298 bench sites)" >&2
molecule destroy -s "$scenario" >>"$log" 2>&1
