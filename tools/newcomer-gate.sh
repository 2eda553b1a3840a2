#!/usr/bin/env bash
# `make newcomer`, a gate of `make test`: what a newcomer runs from a clean checkout, checked the way they
# would look at it. `make demo`; both demo sites fetched over HTTP (status, title, no error page) and the
# WordPress front page rendered by headless Chromium (a screenshot kept in build/newcomer/); `make demo` again
# must report changed=0; a third run with -vvv too; no generated secret in any of their output or in the server's
# logs (tools/secret_scan.py); `make demo-clean` at the end, whatever happened.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
out="$checkout/build/newcomer"
port="${WPZO_DEMO_HTTP_PORT:-80}"
mkdir -p "$out"
cd "$checkout"

log() { printf 'newcomer: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
trap 'make --no-print-directory demo-clean >/dev/null || true' EXIT

# What a visitor must never get instead of the site.
error_markers='Fatal error|Parse error|Warning: |Notice: |Deprecated: |There has been a critical error|Error establishing a database connection|403 Forbidden|404 Not Found|502 Bad Gateway|504 Gateway'

# check_page NAME TITLE: the front page of NAME answers 200 with TITLE in its <title> and no error text.
check_page() {
  local name="$1" title="$2" body="$out/$1.html" status
  status="$(curl -sS --max-time 30 --resolve "$name:$port:127.0.0.1" -o "$body" -w '%{http_code}' \
    "http://$name:$port/")" || fail "http://$name/ did not answer"
  [ "$status" = 200 ] || fail "http://$name/ answered $status"
  grep -q "<title>[^<]*$title" "$body" || fail "http://$name/ has no title '$title': $(head -c 300 "$body")"
  if grep -Eq "$error_markers" "$body"; then fail "http://$name/ shows an error: $(grep -Eo "$error_markers" "$body" | head -1)"; fi
  log "http://$name/ answers 200 with the title '$title'"
}

# recap LOG: the PLAY RECAP line of the demo server.
recap() { grep -E '^wpzo-demo +: ok=' "$1" | tail -1; }

log "make demo (first provisioning)"
make --no-print-directory demo 2>&1 | tee "$out/demo-first.log"
[[ "$(recap "$out/demo-first.log")" == *" failed=0 "* ]] || fail "the first make demo failed"

check_page wordpress.localhost 'wpzo.hosting demo'
check_page static.localhost 'static.localhost'
grep -q 'no content has been deployed yet' "$out/static.localhost.html" || fail "static.localhost shows no placeholder"

# The browser's view: Chromium renders the front page; the DOM it ends with is what a visitor sees.
profile="$(mktemp -d)"
chromium_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" '--window-size=1280,1000')
url="http://wordpress.localhost:$port/"
timeout 120 chromium "${chromium_flags[@]}" --screenshot="$out/wordpress.png" "$url" 2>"$out/chromium.log" \
  || fail "Chromium could not take a screenshot of $url (see $out/chromium.log)"
timeout 120 chromium "${chromium_flags[@]}" --dump-dom "$url" >"$out/wordpress.dom.html" 2>>"$out/chromium.log" \
  || fail "Chromium could not render $url (see $out/chromium.log)"
rm -rf "$profile"
grep -q '<title>[^<]*wpzo.hosting demo' "$out/wordpress.dom.html" || fail "the rendered page has not the demo's title"
if grep -Eq "$error_markers" "$out/wordpress.dom.html"; then fail "the rendered page shows an error"; fi
[ "$(stat -c %s "$out/wordpress.png")" -gt 10000 ] || fail "the screenshot is (nearly) empty"
log "Chromium rendered $url: title 'wpzo.hosting demo', no error; screenshot $out/wordpress.png"

log "make demo again: nothing may change"
make --no-print-directory demo 2>&1 | tee "$out/demo-second.log"
second="$(recap "$out/demo-second.log")"
[[ "$second" == *" changed=0 "* && "$second" == *" failed=0 "* ]] || fail "the second make demo was not changed=0: $second"
check_page wordpress.localhost 'wpzo.hosting demo'

log "the demo again with -vvv, for the secret scan: nothing may change, nothing secret printed"
tools/demo.sh up -vvv >"$out/demo-verbose.log" 2>&1 || fail "the -vvv run failed (see $out/demo-verbose.log)"
verbose="$(recap "$out/demo-verbose.log")"
[[ "$verbose" == *" changed=0 "* && "$verbose" == *" failed=0 "* ]] || fail "the -vvv run was not changed=0: $verbose"
python3 tools/secret_scan.py --store credentials/demo/wpzo-demo --container wpzo-demo \
  "$out/demo-first.log" "$out/demo-second.log" "$out/demo-verbose.log" || fail "a secret was printed or logged"
log "passed: make demo, both sites served, rendered by Chromium, second and -vvv runs changed=0, no secret printed"
