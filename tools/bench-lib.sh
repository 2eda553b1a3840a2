# shellcheck shell=bash
# What the tools/bench-*.sh scripts share; each sources it first. Sets $checkout (this checkout, the working
# directory from then on).
checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$checkout"

# The machine the figures were taken on.
bench_machine() {
  echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB"
}

# bench_server CONTAINER [--reuse]: the WordPress release make demo installs ($archive, build/wordpress.tar.gz,
# downloaded once, and its $version) and a fresh server in a container of the test image named CONTAINER (with
# --reuse: the one a kept run left), removed when the script exits. WPZO_BENCH_KEEP=1 leaves it running, to look
# into it or time a run again.
bench_server() {
  archive="$checkout/build/wordpress.tar.gz"
  version="$(tools/wordpress-archive.sh "$archive" | sed -n 's/^version=//p')"
  bench_container="$1"
  [ "${2:-}" = --reuse ] || tools/server-container.sh "$bench_container"
  [ -n "${WPZO_BENCH_KEEP:-}" ] || trap 'docker rm -f "$bench_container" >/dev/null 2>&1 || true' EXIT
}
