#!/usr/bin/env bash
# Make this checkout importable as the collection wpzo.hosting inside the given
# virtualenv: ansible-core scans sys.path for ansible_collections/, where the
# `ansible` package already keeps community.* and friends.
set -euo pipefail
venv="$1"
checkout="$(cd "$(dirname "$0")/.." && pwd)"
purelib="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$purelib/ansible_collections/wpzo"
ln -sfn "$checkout" "$purelib/ansible_collections/wpzo/hosting"
