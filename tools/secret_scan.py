"""Fail if any secret of a credential store appears in playbook output or in a server's logs.

    python3 tools/secret_scan.py --store credentials/demo/wpzo-demo --container wpzo-demo build/newcomer/*.log

Reads every secret of the store (plaintext ones; an encrypted one is opened with ansible-vault only when
ANSIBLE_VAULT_PASSWORD_FILE is set, else the scan refuses: a scan that skips secrets proves nothing), then looks
for each value in the given output files and, inside the container, in /var/log, every site's logs and the
journal. Prints where a secret was found by its name, never the value.
"""

import argparse
import os
import subprocess
import sys

from ansible_collections.wpzo.hosting.plugins.module_utils.credentials import is_encrypted, read_text, secret_names

# Run inside the server with one secret on stdin (never on a command line): the paths of the logs holding it.
SERVER_LOG_SEARCH = r"""
pattern="$(mktemp)"; journal="$(mktemp)"
trap 'rm -f "$pattern" "$journal"' EXIT
cat > "$pattern"
grep -rlF -f "$pattern" /var/log /srv/www/*/logs 2>/dev/null || true
journalctl --no-pager -o cat > "$journal"
grep -qF -f "$pattern" "$journal" && echo journal || true
"""


def read_secrets(store):
    secrets = {}
    for name in secret_names(store):
        text = read_text(os.path.join(store, name))
        if is_encrypted(text):
            if not os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE"):
                sys.exit("secret scan: %s is vault-encrypted and ANSIBLE_VAULT_PASSWORD_FILE is not set" % name)
            text = subprocess.run(
                ["ansible-vault", "view", os.path.join(store, name)], capture_output=True, text=True, check=True
            ).stdout
        value = text.rstrip("\n")
        if value:
            secrets[name] = value
    return secrets


def found_in_files(secrets, paths):
    hits = []
    for path in paths:
        with open(path, errors="replace") as handle:
            content = handle.read()
        hits += ["%s in %s" % (name, path) for name, value in secrets.items() if value in content]
    return hits


def found_on_server(secrets, container):
    hits = []
    for name, value in secrets.items():
        result = subprocess.run(
            ["docker", "exec", "-i", container, "bash", "-c", SERVER_LOG_SEARCH],
            input=value + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            sys.exit("secret scan: could not search %s's logs: %s" % (container, result.stderr.strip()))
        hits += ["%s in %s:%s" % (name, container, path) for path in result.stdout.split()]
    return hits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--container")
    parser.add_argument("outputs", nargs="*")
    args = parser.parse_args()
    secrets = read_secrets(args.store)
    if not secrets:
        sys.exit("secret scan: no secret in %s: nothing would be proven" % args.store)
    hits = found_in_files(secrets, args.outputs)
    if args.container:
        hits += found_on_server(secrets, args.container)
    where = "%d output files" % len(args.outputs) + (" and %s's logs" % args.container if args.container else "")
    if hits:
        print("secret scan: FAILED, %d secrets of %s found:" % (len(hits), args.store))
        print("\n".join("  " + hit for hit in hits))
        return 1
    print("secret scan: none of the %d secrets of %s is in %s" % (len(secrets), args.store, where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
