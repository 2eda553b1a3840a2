#!/usr/bin/env bash
# Fail when another copy of wpzo.hosting would be loaded instead of this checkout: ansible looks in
# ~/.ansible/collections and /usr/share/ansible/collections before the virtualenv's link (tools/link-collection.sh),
# so an installed copy there silently replaces the code under test (make demo, Molecule, ansible-doc).
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
found="$(ansible-galaxy collection list wpzo.hosting --format json 2>/dev/null)"
others="$(python3 -c '
import json, os, sys
checkout = os.path.realpath(sys.argv[1])
paths = json.loads(sys.argv[2] or "{}")
print(" ".join(p for p in paths if os.path.realpath(os.path.join(p, "wpzo", "hosting")) != checkout))
' "$checkout" "$found")"
if [ -n "$others" ]; then
  echo "check-collection-path: another wpzo.hosting is installed in: $others" >&2
  echo "check-collection-path: ansible would load it instead of $checkout; remove it (rm -r <path>/wpzo/hosting)" >&2
  exit 1
fi
