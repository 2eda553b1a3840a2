#!/usr/bin/env bash
# tools/bench-process-pools.sh POOLS [WORKERS [MINUTES]]: resident memory of Debian 12's prometheus-process-exporter,
# configured as the monitoring_agent role configures it, on a server with POOLS PHP-FPM pools (default 2 workers
# each, 10 minutes).
#
# Starts a container of the systemd test image with tools/server-container.sh (named wpzo-bench-pools, or $WPZO_BENCH_CONTAINER; it refuses to
# run if that container exists, and removes the one it started when it exits), writes the exporter's groups and its
# /etc/default file from the role's templates and defaults (GOGC, GOMEMLIMIT, ARGS; the role sets no systemd
# limits for it), starts POOLS x WORKERS processes whose cmdline is a PHP-FPM worker's, `php-fpm: pool
# site<N>.example.test`, and one `php-fpm: master process (...)` (comm php-fpm8.2, idle), idle processes named
# as the daemons of the role's other groups (nginx, mariadbd, redis-server, fail2ban-server), restarts the exporter
# and scrapes it every 15 s (WPZO_BENCH_INTERVAL) for MINUTES.
#
# Prints one tab-separated line a scrape, after it: seconds since the exporter started, VmRSS, RssAnon and RssFile
# of /proc/<pid>/status in KiB, the series the scrape returned, the groups (namedprocess_namegroup_num_procs), the
# scrape's duration in seconds, go_gc_duration_seconds_count, process_cpu_seconds_total and the Go memory
# GOMEMLIMIT counts (go_memstats_sys_bytes - go_memstats_heap_released_bytes, MiB). Then a summary in MiB: the
# peak RSS (with its anon / file split) and the steady RSS, the median of the scrapes from minute 3
# (WPZO_BENCH_SETTLE_MINUTES) on, the collections and CPU in that window. Exits non-zero only when it could not run.
#
# WPZO_BENCH_GOMEMLIMIT and WPZO_BENCH_GOGC override the role's defaults; WPZO_PYTHON is a Python with Jinja2 and
# PyYAML (default .venv/bin/python, else python3).
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"

pools="${1:?usage: $0 POOLS [WORKERS [MINUTES]]}"
workers="${2:-2}"
minutes="${3:-10}"
container="${WPZO_BENCH_CONTAINER:-wpzo-bench-pools}"
interval="${WPZO_BENCH_INTERVAL:-15}"
settle="${WPZO_BENCH_SETTLE_MINUTES:-3}"
python="${WPZO_PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
unit=prometheus-process-exporter
fake=/usr/local/sbin/php-fpm8.2

# The role's files, rendered from its templates with its defaults (ansible_managed as Ansible's default text).
render() { # template -> its text
  BENCH_GOMEMLIMIT="${WPZO_BENCH_GOMEMLIMIT:-}" BENCH_GOGC="${WPZO_BENCH_GOGC:-}" "$python" - "$1" <<'PY'
import os, sys, jinja2, yaml
role = "roles/monitoring_agent"
defaults = yaml.safe_load(open(f"{role}/defaults/main.yml"))
variables = yaml.safe_load(open(f"{role}/vars/main.yml"))
if os.environ["BENCH_GOGC"]:
    defaults["monitoring_agent_gogc"] = os.environ["BENCH_GOGC"]
if os.environ["BENCH_GOMEMLIMIT"]:
    defaults["monitoring_agent_process_exporter_gomemlimit"] = os.environ["BENCH_GOMEMLIMIT"]
env = jinja2.Environment(keep_trailing_newline=True)
context = dict(defaults, ansible_managed="Ansible managed",
               __monitoring_agent_marker=variables["__monitoring_agent_marker"],
               __monitoring_agent_process_config="/etc/prometheus/process-exporter.yml",
               __monitoring_agent_listen_host="127.0.0.1", __monitoring_agent_fleet=False)
context["__monitoring_agent_go_settings"] = env.from_string(variables["__monitoring_agent_go_settings"]).render(context)
sys.stdout.write(env.from_string(open(f"{role}/templates/{sys.argv[1]}").read()).render(context))
PY
}
groups_file="$(render process-exporter.yml.j2)"
default_file="$(render default/prometheus-process-exporter.j2)"

if docker container inspect "$container" >/dev/null 2>&1; then
  echo "$0: a container named $container exists; set WPZO_BENCH_CONTAINER to another name" >&2
  exit 1
fi
# shellcheck disable=SC2064  # the container's name goes into the trap now
trap "docker rm -f '$container' >/dev/null 2>&1 || true" EXIT
"$(dirname "$0")/server-container.sh" "$container"
cx() { docker exec -i "$container" "$@"; }

cx mkdir -p /etc/prometheus
cx tee /etc/prometheus/process-exporter.yml >/dev/null <<<"$groups_file"
cx tee /etc/default/$unit >/dev/null <<<"$default_file"
cx systemctl stop $unit

# The pools: idle processes (a copy of cat reading a FIFO no one writes) under a master, as PHP-FPM's, with argv[0]
# the title PHP-FPM gives them and nothing after it; and the daemons the role's other groups name (by comm), so
# that the exporter keeps the server's groups: nginx (master and 2 workers), MariaDB, Redis, fail2ban.
cx cp /bin/cat "$fake"
cx tee /run/wpzo-fake-php-fpm.sh >/dev/null <<EOF
#!/bin/bash
fifo=/run/wpzo-fake-php-fpm.fifo
mkfifo "\$fifo"
for ((p = 1; p <= $pools; p++)); do
  for ((w = 1; w <= $workers; w++)); do
    (exec -a "php-fpm: pool site\$p.example.test" $fake <>"\$fifo") &
  done
done
for daemon in nginx nginx nginx mariadbd redis-server fail2ban-server; do
  cp -n /bin/cat "/usr/local/sbin/\$daemon"
  (exec "/usr/local/sbin/\$daemon" <>"\$fifo") &
done
exec -a "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)" $fake <>"\$fifo"
EOF
cx systemd-run --quiet --unit=wpzo-fake-php-fpm bash /run/wpzo-fake-php-fpm.sh
want=$(( pools * workers + 1 ))
for _ in $(seq 120); do
  [ "$(cx pgrep -c -f '^php-fpm: ' || true)" -ge "$want" ] && break
  sleep 1
done
running="$(cx pgrep -c -f '^php-fpm: ' || true)"
[ "$running" -ge "$want" ] || { echo "$0: only $running of $want php-fpm processes started" >&2; exit 1; }

cx systemctl start $unit
started=$(date +%s)
port="$(sed -n 's/.*-web.listen-address=[^ ]*:\([0-9]*\).*/\1/p' <<<"$default_file")"
for _ in $(seq 30); do cx curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 1; done

echo "# $(date -u +%FT%TZ), $(bench_machine), load $(cut -d' ' -f1 /proc/loadavg); $pools pools x $workers workers" \
  "+ master = $running php-fpm processes, $minutes min, scrape every ${interval}s"
echo "# $(cx /usr/bin/prometheus-process-exporter -version 2>&1 | head -1)"
grep -v '^#' <<<"$default_file" | sed 's/^/# default: /'
printf '#s\trss_kib\tanon_kib\tfile_kib\tseries\tgroups\tscrape_s\tgc_count\tcpu_s\tgo_mib\n'
samples="$(mktemp)"
# shellcheck disable=SC2064  # the file's and the container's names go into the trap now
trap "rm -f '$samples'; docker rm -f '$container' >/dev/null 2>&1 || true" EXIT
end=$(( started + minutes * 60 ))
while :; do
  next=$(( $(date +%s) + interval ))
  cx sh -s "$port" "$(( $(date +%s) - started ))" <<'SH' | tee -a "$samples"
pid=$(systemctl show -p MainPID --value prometheus-process-exporter)
took=$(curl -s -o /run/metrics.txt -w '%{time_total}' "http://127.0.0.1:$1/metrics")
status=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s\t", $2}' "/proc/$pid/status")
awk -v s="$2" -v status="$status" -v took="$took" '
  !/^#/ { series++ }
  /^namedprocess_namegroup_num_procs/ { groups++ }
  /^go_gc_duration_seconds_count / { gc = $2 }
  /^process_cpu_seconds_total / { cpu = $2 }
  /^go_memstats_sys_bytes / { sys = $2 }
  /^go_memstats_heap_released_bytes / { released = $2 }
  END { printf "%s\t%s%d\t%d\t%s\t%s\t%s\t%.1f\n", s, status, series, groups, took, gc, cpu, (sys - released) / 1048576 }
' /run/metrics.txt
SH
  [ $(( next )) -lt "$end" ] || break
  sleep $(( next - $(date +%s) > 0 ? next - $(date +%s) : 0 ))
done

awk -F'\t' -v settle=$(( settle * 60 )) '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { if ($2 > peak) { peak = $2; pa = $3; pf = $4; pt = $1 }
    if ($1 >= settle) { n++; r[n] = $2; a[n] = $3; f[n] = $4; d[n] = $7; if (n == 1) { t0 = $1; g0 = $8; c0 = $9 }
                        t1 = $1; g1 = $8; c1 = $9; series = $5; groups = $6; if ($10 > gomax) gomax = $10 } }
  END {
    if (!n) { print "# no scrape after the settle time" > "/dev/stderr"; exit 1 }
    m = (t1 - t0) / 60
    printf "peak RSS %.1f MiB (anon %.1f / file %.1f) at %d s\n", peak / 1024, pa / 1024, pf / 1024, pt
    printf "steady RSS %.1f MiB (anon %.1f / file %.1f), median of %d scrapes from %d s; series %d, groups %d\n",
      median(r, n) / 1024, median(a, n) / 1024, median(f, n) / 1024, n, t0, series, groups
    printf "scrape %.3f s (median); Go memory (GOMEMLIMIT counts) at most %.1f MiB; in %.1f min: %d collections" \
      " (%.1f a minute), %.2f s CPU (%.2f %% of a core)\n", median(d, n), gomax, m, g1 - g0,
      m ? (g1 - g0) / m : 0, c1 - c0, m ? (c1 - c0) / (m * 60) * 100 : 0
  }' "$samples"
