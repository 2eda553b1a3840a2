#!/usr/bin/env bash
# make bench-serve: wrk against the demo server (make demo converges it first).
# Prints requests/s, p50 and p99 for a static file the size of the WordPress
# front page, that front page as a page-cache HIT, and uncached; then HIT/static.
# Exits non-zero only when it could not run.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
port="${WPZO_DEMO_HTTP_PORT:-80}"
duration="${BENCH_DURATION:-10s}"
container=wpzo-demo
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

front="$(curl -sf -H 'Host: wordpress.localhost' "http://127.0.0.1:$port/")"
bytes=${#front}
docker exec -i "$container" runuser -u static_localhost -- tee /srv/www/static.localhost/public/front.html >/dev/null <<<"$front"
curl -sf -o /dev/null -H 'Host: wordpress.localhost' "http://127.0.0.1:$port/"  # warm the cache

measure() { # label host path connections -> "label rps p50 p99"
  local out
  out="$(wrk -t"$(( $4 < 2 ? $4 : 2 ))" -c"$4" -d"$duration" --latency -H "Host: $2" "http://127.0.0.1:$port$3")"
  WRK_OUTPUT="$out" python3 - "$1" <<'PY'
import os, re, sys
out = os.environ["WRK_OUTPUT"]
def ms(label):
    found = re.search(label + r"\s+([\d.]+)(us|ms|s|m)\b", out)
    if not found:
        sys.exit("bench-serve: no %s latency in wrk's output:\n%s" % (label, out))
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{sys.argv[1]} {rps:.0f} {ms('50%'):.2f} {ms('99%'):.2f}")
PY
}
static=$(measure static static.localhost /front.html 50)
hit=$(measure hit wordpress.localhost / 50)
uncached=$(measure uncached wordpress.localhost "/?bench-nocache=1" 1)
cache_status=$(curl -s -o /dev/null -D - -H 'Host: wordpress.localhost' "http://127.0.0.1:$port/" | tr -d '\r' | sed -n 's/^X-Cache-Status: //p')

printf '\nbench-serve (%s; front page %s bytes, %s per run; cache of / is %s)\n' \
  "$(bench_machine)" "$bytes" "$duration" "$cache_status"
printf '%-34s %10s %10s %10s\n' "what" "req/s" "p50 ms" "p99 ms"
for row in "$static" "$hit" "$uncached"; do
  read -r label rps p50 p99 <<<"$row"
  case $label in
    static) label="static file, same size" ;;
    hit) label="front page, page-cache HIT" ;;
    uncached) label="front page, uncached (PHP)" ;;
  esac
  printf '%-34s %10s %10s %10s\n' "$label" "$rps" "$p50" "$p99"
done
python3 -c "import sys; s, h = float(sys.argv[1]), float(sys.argv[2]); print(f'HIT/static ratio: {h / s:.2f} (target >= 0.8)')" \
  "$(cut -d' ' -f2 <<<"$static")" "$(cut -d' ' -f2 <<<"$hit")"
