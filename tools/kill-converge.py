"""Kill a converge that adds a site, converge again, and check that every site serves (issue 12).

Runs against the converged instance of the php_fpm scenario (`molecule converge -s php_fpm` first). For each
kill point T (seconds): adds a new site (user, tree, probe script, pool) to converge.yml's sites through extra
vars, starts ansible-playbook, kills it and every process below it with SIGKILL after T s, or right after the
result of the task matching task:REGEX (a lost SSH session or a CI timeout does no cleanup either), runs the
same converge to completion (the recovery), then once more. Prints
per kill point: the task the kill interrupted, the recovery's and the next run's `changed`, and how many of the
pools answer a PHP request through their socket (cgi-fcgi) after the recovery. Exits non-zero when a site does
not serve or the run after the recovery changes something.

    python3 tools/kill-converge.py [T | task:REGEX ...]     default: 8 16 24 "task:Manage the role's pools"
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
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


def descendants(pid):
    """``pid`` and every process below it: ansible's workers leave its process group (setsid), a kill must not."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    data = handle.read()
                children.setdefault(int(data[data.rindex(")") + 2 :].split()[1]), []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def playbook(extra_file, kill=None):
    """Run converge.yml; ``kill``: seconds (float) or "task:REGEX" (right after that task's result)."""
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
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    pattern = re.compile(kill[5:]) if isinstance(kill, str) else None
    while process.poll() is None:
        time.sleep(0.05)
        elapsed = time.monotonic() - started
        if kill is None:
            continue
        if pattern:
            text = "".join(lines)
            header = [m for m in re.finditer(r"^TASK \[(.*?)\]", text, re.M) if pattern.search(m.group(1))]
            due = header and re.search(r"^(ok|changed|failed|fatal|skipping):", text[header[-1].end() :], re.M)
        else:
            due = elapsed >= kill
        if due:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            break
    process.wait()
    reader.join(5)
    out = "".join(lines)
    recap = re.search(r"%s\s+:\s+ok=(\d+)\s+changed=(\d+).*failed=(\d+)" % re.escape(INSTANCE), out)
    tasks = re.findall(r"^(?:TASK|RUNNING HANDLER) \[(.*?)\]", out, re.M)
    return {
        "rc": process.returncode,
        "changed": int(recap.group(2)) if recap else None,
        "failed": int(recap.group(3)) if recap else None,
        "last_task": tasks[-1] if tasks else "(none)",
        "seconds": time.monotonic() - started,
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
        killed = playbook(extra.name, kill=point)
        time.sleep(2)  # a reload the killed run still made would have started the new pool by now
        before = [s for s in sites if serves(s)]
        recovery = playbook(extra.name)
        serving = [s for s in sites if serves(s)]
        after = playbook(extra.name)
        os.unlink(extra.name)
        row = {
            "kill_at": point,
            "killed_s": round(killed["seconds"], 1),
            "killed_in": killed["last_task"][:70],
            "killed_finished": killed["rc"] == 0,
            "serving_after_kill": "%d/%d" % (len(before), len(sites)),
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
    print(
        "\nkill at | killed after | last task of the killed run | serving after the kill | recovery changed"
        " | serving after the recovery | next run changed"
    )
    for row in rows:
        print(
            "%s | %5ss | %-70s | %s | %3s | %s | %s"
            % (
                row["kill_at"],
                row["killed_s"],
                row["killed_in"],
                row["serving_after_kill"],
                row["recovery_changed"],
                row["serving"],
                row["next_changed"],
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    points = [arg if arg.startswith("task:") else float(arg) for arg in sys.argv[1:]]
    sys.exit(main(points or [8, 16, 24, "task:Manage the role's pools"]))
