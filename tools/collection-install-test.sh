#!/usr/bin/env bash
# Prove the built collection works as another project would use it: install
# the tarball into an empty collections path and run a playbook that uses
# wpzo.hosting.base by FQCN against a fresh test container.
set -euo pipefail
tarball="$(realpath "$1")"
work="$(mktemp -d)"
container="wpzo-collection-install-$$"
cleanup() { docker rm -f "$container" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# Its dependencies come from the `ansible` package in the virtualenv (Galaxy may be unreachable).
ansible-galaxy collection install --force --no-deps -p "$work/collections" "$tarball"
export ANSIBLE_COLLECTIONS_PATH="$work/collections"

doc="$(ansible-doc -t role wpzo.hosting.base)"
grep -q "$work/collections/ansible_collections/wpzo/hosting" <<<"$doc" || { echo "wpzo.hosting.base was not found in the installed path" >&2; exit 1; }
grep -q 'base_ssh_port' <<<"$doc" || { echo "ansible-doc shows no options of wpzo.hosting.base" >&2; exit 1; }

"$(dirname "$0")/server-container.sh" "$container"

cat > "$work/inventory.yml" <<YAML
all:
  hosts:
    $container:
      ansible_connection: community.docker.docker
      base_swap_size_mb: 64
YAML
cat > "$work/playbook.yml" <<YAML
- name: Use the installed collection by FQCN
  hosts: all
  roles:
    - role: wpzo.hosting.base
YAML
ansible-playbook -i "$work/inventory.yml" "$work/playbook.yml"
