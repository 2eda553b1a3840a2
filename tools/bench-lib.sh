# shellcheck shell=bash
# What the tools/bench-*.sh scripts share; each sources it first, and then works in the checkout.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

# The machine the figures were taken on.
bench_machine() {
  echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB"
}

# "ARCHIVE VERSION": the WordPress release make demo installs (build/wordpress.tar.gz, downloaded once).
bench_wordpress() {
  local archive="$PWD/build/wordpress.tar.gz"
  echo "$archive $(tools/wordpress-archive.sh "$archive" | sed -n 's/^version=//p')"
}

# bench_server CONTAINER [--reuse]: a fresh server in a container of the test image named CONTAINER (with --reuse:
# the one a kept run left), removed when the script exits. WPZO_BENCH_KEEP=1 leaves it running, to look into it or
# time a run again.
bench_server() {
  [ "${2:-}" = --reuse ] || tools/server-container.sh "$1"
  # shellcheck disable=SC2064  # the container's name goes into the trap now
  [ -n "${WPZO_BENCH_KEEP:-}" ] || trap "docker rm -f '$1' >/dev/null 2>&1 || true" EXIT
}
