#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the working tree laid out as
# ansible_collections/wpzo/hosting (ansible-test needs that path and a git
# repository), with the offline pip bootstrap in ansible-test's cache.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
# The pip version ansible-test bootstraps its venvs with (get_venv_packages()).
pip_version="$(python3 -c '
import inspect, re
from ansible_test._internal import python_requirements as r
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r.get_venv_packages)).group(1))')"
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$checkout/tools/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"

work="$checkout/build/sanity"
rm -rf "$work"
dest="$work/ansible_collections/wpzo/hosting"
mkdir -p "$dest"
(cd "$checkout" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -C "$dest" -xf -
cd "$dest"
git init -q
git add -A
python_version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
ansible-test sanity --venv --python "$python_version" --color no "$@"
