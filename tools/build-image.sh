#!/usr/bin/env bash
# Build the Debian 12 + systemd test image used by Molecule, `make demo` and CI.
# From the registry's debian:12 when a registry answers; otherwise debootstrap
# from the Debian mirror configured in this host's apt sources, then docker import.
# The image carries a label with the hash of its recipe: an unchanged recipe
# reuses the image, a changed one rebuilds it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
image="${WPZO_TEST_IMAGE:-wpzo/debian12-systemd:latest}"
packages_file="$here/image-packages.txt"
recipe="$(cat "$0" "$packages_file" | sha256sum | cut -c1-16)"

log() { printf 'build-image: %s\n' "$*" >&2; }

if [ "$(docker image inspect -f '{{ index .Config.Labels "wpzo.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
  log "$image is up to date (recipe $recipe)"
  exit 0
fi

# Prints "<suite-mirror-uri> <security-uri-or-empty>" read from the host's apt sources.
host_mirrors() {
  python3 - <<'PY'
import glob, re
main = security = ""
def consider(uri, suites):
    global main, security
    for suite in suites:
        if suite == "bookworm" and not main:
            main = uri
        if suite == "bookworm-security" and not security:
            security = uri
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
        if "deb" in fields.get("Types", "").split():
            for uri in fields.get("URIs", "").split():
                consider(uri, fields.get("Suites", "").split())
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
        if m:
            consider(m.group(1), [m.group(2)])
print(main, security)
PY
}

base="wpzo/debian12-base:bookworm"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  if timeout 60 docker pull -q debian:12 >/dev/null 2>&1; then
    log "using the registry's debian:12"
    docker tag debian:12 "$base"
  else
    read -r mirror security < <(host_mirrors)
    if [ -z "$mirror" ]; then
      log "no registry and no Debian bookworm mirror in this host's apt sources: cannot build $image"
      exit 1
    fi
    command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap bookworm from $mirror (about a minute)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
    {
      echo "deb $mirror bookworm main"
      echo "deb $mirror bookworm-updates main"
      [ -n "$security" ] && echo "deb $security bookworm-security main"
    } > "$rootfs/etc/apt/sources.list"
    tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  fi
fi

log "adding systemd, python3, sudo and the roles' packages (installed, their daemons not enabled) to $image"
builder="wpzo-image-build-$$"
docker rm -f "$builder" >/dev/null 2>&1 || true
mapfile -t packages < <(grep -Ev '^\s*(#|$)' "$packages_file")
# The daemons a role enables and starts itself once it has configured them: a container of the image boots with
# none of them running, as a fresh server would before the role, and each role still enables its own.
daemons="ssh.service nginx.service php8.2-fpm.service mariadb.service redis-server.service fail2ban.service systemd-timesyncd.service
  prometheus.service prometheus-alertmanager.service prometheus-blackbox-exporter.service prometheus-node-exporter.service
  prometheus-process-exporter.service prometheus-nginx-exporter.service prometheus-mysqld-exporter.service
  prometheus-redis-exporter.service"
docker run --name "$builder" -e DEBIAN_FRONTEND=noninteractive "$base" bash -euc '
  daemons="$1"; shift
  rm -f /etc/apt/apt.conf.d/docker-clean
  # A download that fails for a moment (the mirror, or its name server through Docker'"'"'s DNS) is tried again.
  echo "Acquire::Retries \"5\";" > /etc/apt/apt.conf.d/80wpzo-retries
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus python3 python3-apt sudo \
    iproute2 procps ca-certificates >/dev/null
  # Installed, not started (no init runs in the build), so that no scenario pays for unpacking them again.
  printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq "$@" >/dev/null
  rm /usr/sbin/policy-rc.d
  # shellcheck disable=SC2086
  systemctl disable $daemons >/dev/null 2>&1
  # Every container makes its own SSH host keys at its first boot, never shares the image'"'"'s.
  rm -f /etc/ssh/ssh_host_*
  printf "%s\n" "[Unit]" "Description=SSH host keys of this container" \
    "ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key" "Before=ssh.service" \
    "[Service]" "Type=oneshot" "ExecStart=/usr/bin/ssh-keygen -A" \
    "[Install]" "WantedBy=multi-user.target" > /etc/systemd/system/wpzo-image-ssh-host-keys.service
  systemctl enable wpzo-image-ssh-host-keys.service >/dev/null 2>&1
  # A container has no consoles or kernel mounts to manage.
  systemctl mask getty@tty1.service console-getty.service systemd-remount-fs.service \
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null
  : > /etc/machine-id
' _ "$daemons" "${packages[@]}"
docker commit \
  --change 'ENV container=docker' \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change "LABEL wpzo.recipe=$recipe" \
  "$builder" "$image" >/dev/null
docker rm "$builder" >/dev/null
log "built $image (recipe $recipe)"
