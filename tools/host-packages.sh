#!/usr/bin/env bash
# Debian packages the development machine needs besides Python's: the test
# image builder, the SSH client the verifiers log in with, shellcheck for
# ansible-test sanity, fail2ban-regex for the filter tests, curl and Chromium for the
# newcomer gate (the demo fetched and rendered as a browser would), WordPress to pack a
# local release archive, and promtool (Debian's prometheus) for the alert rules' unit
# tests, and npm for Azurite (the backups scenario's Azure Blob). Installed only where missing (Debian/Ubuntu, root).
set -euo pipefail
declare -A needed=([debootstrap]=debootstrap [ssh]=openssh-client [shellcheck]=shellcheck [git]=git [fail2ban-regex]=fail2ban [curl]=curl [chromium]=chromium [promtool]=prometheus [npm]=npm)
missing=()
for command in "${!needed[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${needed[$command]}")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# Debian's WordPress: tests and the demo pack it into a release archive (no download from wordpress.org).
[ -f /usr/share/wordpress/wp-includes/version.php ] || missing+=(wordpress)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "host-packages: please install: ${missing[*]}" >&2
  exit 1
fi
echo "host-packages: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
