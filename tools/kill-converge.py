#!/usr/bin/env python3
"""Kill a converge that adds a site, converge again, and check that every site serves (issue 12).

Runs against the converged instance of the php_fpm scenario (`molecule converge -s php_fpm` first). For each
kill point T (seconds): adds a new site (user, tree, probe script, pool) to converge.yml's sites through extra
vars, starts ansible-playbook, kills its whole process group with SIGKILL after T s (a lost SSH session or a
CI timeout does no cleanup either), runs the same converge to completion (the recovery), then once more. Prints
per kill point: the task the kill interrupted, the recovery's and the next run's `changed`, and how many of the
pools answer a PHP request through their socket (cgi-fcgi) after the recovery. Exits non-zero when a site does
not serve or the run after the recovery changes something.

    tools/kill-converge.py [T ...]        default: 8 16 24
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "molecule" / "php_fpm"
INSTANCE = "wpzo-php_fpm"
BIN = Path(sys.executable).parent


def inventory():
    found = sorted(Path.home().glob(".ansible/tmp/molecule.*.php_fpm/inventory"), key=os.path.getmtime)
    if not found:
        sys.exit("kill-converge: no php_fpm inventory; run `molecule converge -s php_fpm` first")
    return str(found[-1])


def base_vars():
    import yaml

    play = yaml.safe_load((SCENARIO / "converge.yml").read_text())[0]
    pools = play["roles"][0]["vars"]["php_fpm_pools"]
    return list(play["vars"]["molecule_sites"]), pools


def playbook(extra_file, kill_after=None):
    command = [str(BIN / "ansible-playbook"), "-i", inventory(), str(SCENARIO / "converge.yml"), "-e", "@" + extra_file]
    env = dict(
        os.environ,
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PYTHONUNBUFFERED="1",  # so that the output of a killed run names the task it was in
    )
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    if kill_after is None:
        out, _ = process.communicate(timeout=1800)
    else:
        try:
            out, _ = process.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
    elapsed = time.monotonic() - started
    recap = re.search(r"%s\s+:\s+ok=(\d+)\s+changed=(\d+).*failed=(\d+)" % re.escape(INSTANCE), out)
    tasks = re.findall(r"^(?:TASK|RUNNING HANDLER) \[(.*?)\]", out, re.M)
    return {
        "rc": process.returncode,
        "changed": int(recap.group(2)) if recap else None,
        "failed": int(recap.group(3)) if recap else None,
        "last_task": tasks[-1] if tasks else "(none)",
        "seconds": elapsed,
        "out": out,
    }


def docker(*args):
    return subprocess.run(["docker", "exec", INSTANCE, *args], capture_output=True, text=True, check=False)


def serves(site):
    """A PHP request through the pool's socket answers with the site's user."""
    script = f"/srv/www/{site}/public/probe.php"
    result = docker(
        "env", "REQUEST_METHOD=GET", f"SCRIPT_FILENAME={script}", "SCRIPT_NAME=/probe.php", "QUERY_STRING=",
        "cgi-fcgi", "-bind", "-connect", f"/run/php/{site}.sock",
    )  # fmt: skip
    body = result.stdout.replace("\r\n", "\n").split("\n\n", 1)[-1]  # text mode may have folded \r\n already
    try:
        return result.returncode == 0 and json.loads(body).get("user") == site
    except ValueError:
        return False


def main(points):
    sites, pools = base_vars()
    rows, ok = [], True
    for index, point in enumerate(points):
        site = "kill_%d_%d" % (index, int(time.time()) % 100000)
        sites.append(site)
        pools.append({"name": site, "user": site, "root": "/srv/www/" + site, "process_idle_timeout": "3s"})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as extra:
            json.dump({"molecule_sites": sites, "php_fpm_pools": pools}, extra)
        killed = playbook(extra.name, kill_after=point)
        recovery = playbook(extra.name)
        serving = [s for s in sites if serves(s)]
        after = playbook(extra.name)
        os.unlink(extra.name)
        row = {
            "kill_s": point,
            "killed_in": killed["last_task"][:70],
            "killed_finished": killed["rc"] == 0,
            "recovery_changed": recovery["changed"],
            "recovery_s": round(recovery["seconds"]),
            "serving": "%d/%d" % (len(serving), len(sites)),
            "next_changed": after["changed"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if recovery["rc"] != 0 or len(serving) != len(sites) or after["changed"] != 0:
            ok = False
            print(recovery["out"][-3000:] if recovery["rc"] != 0 else after["out"][-3000:], file=sys.stderr)
    print("\nkill at | interrupted task | recovery changed | serving | next run changed")
    for row in rows:
        print(
            "%5ss | %-70s | %3s | %s | %s"
            % (row["kill_s"], row["killed_in"], row["recovery_changed"], row["serving"], row["next_changed"])
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main([float(arg) for arg in sys.argv[1:]] or [8, 16, 24]))
