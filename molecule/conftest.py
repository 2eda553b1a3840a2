"""Fixtures shared by every scenario's testinfra verifier.

Tests run on the controller; they reach the converged container the way a user
would (over the network, by its address on the scenario's Docker network) and
use a throwaway probe container as a second machine on that network.
"""

import json
import os
import pprint
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

# A scenario's test modules share helpers (`from test_sites import ...`): pytest runs with --import-mode=importlib
# (pyproject.toml), which puts no test folder on sys.path, so the scenario's own is put there.
sys.path.insert(0, os.path.join(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", ""), "tests"))

IMAGE = os.environ.get("WPZO_TEST_IMAGE", "wpzo/debian12-systemd:latest")
SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
NETWORK = "wpzo-net-" + SCENARIO
CHECKOUT = Path(__file__).resolve().parents[1]


def docker(*args, check=True, timeout=60):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def instance_name(host):
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def instance_ip(instance_name):
    template = '{{ (index .NetworkSettings.Networks "%s").IPAddress }}' % NETWORK
    return docker("inspect", "-f", template, instance_name).stdout.strip()


class Probe:
    """A second machine on the scenario's network: a container of the test image."""

    def __init__(self, name):
        self.name = name

    def run(self, *command, timeout=60):
        return docker("exec", self.name, *command, check=False, timeout=timeout)

    def tcp_connect(self, address, port, timeout=3):
        """Return 'open', 'refused' or 'timeout' for a TCP connection attempt."""
        script = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\n"
            f"s.settimeout({timeout})\n"
            "try:\n s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
            "except ConnectionRefusedError: print('refused')\n"
            "except (TimeoutError, socket.timeout): print('timeout')\n"
        )
        return self.run("python3", "-c", script, address, str(port)).stdout.strip()


@pytest.fixture(scope="module")
def curl(instance_ip):
    """curl on the controller, reaching the server by its address with the site's name (SNI and Host)."""

    def run(url, *options):
        host = url.split("/")[2]
        port = 443 if url.startswith("https") else 80
        command = ["curl", "-sk", "--max-time", "15", "--resolve", f"{host}:{port}:{instance_ip}", *options, url]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    return run


@pytest.fixture(scope="module")
def probe(instance_name):
    name = f"{instance_name}-probe"
    docker("rm", "-f", name, check=False)
    docker("run", "-d", "--name", name, "--network", NETWORK, IMAGE, "sleep", "infinity")
    yield Probe(name)
    docker("rm", "-f", name, check=False)


# --- ansible-playbook, as Molecule runs it --------------------------------------------------------------------


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def said(self):
        """What the run printed, white space folded: the YAML callback wraps long messages across lines."""
        return " ".join((self.stdout + self.stderr).split())

    @property
    def tail(self):
        """The end of the output, for an assertion's message."""
        return self.stdout[-3000:] + self.stderr[-2000:]

    @property
    def recap(self):
        """The instance's counters in the last PLAY RECAP: {"ok": 12, "changed": 0, "failed": 0, ...}."""
        recaps = self.recaps
        assert "wpzo-" + SCENARIO in recaps, self.tail
        return recaps["wpzo-" + SCENARIO]

    @property
    def recaps(self):
        """Every host's counters in the last PLAY RECAP: {"wpzo-fleet-server": {"ok": 12, "changed": 0, ...}}."""
        recap = self.stdout.rsplit("PLAY RECAP", 1)[-1]
        return {host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}
                for host, counters in re.findall(r"(?m)^(\S+)\s+:(.*)$", recap)}  # fmt: skip

    @property
    def changed_blocks(self):
        """What each task or handler that reported a change printed (its diff with --diff)."""
        blocks = re.split(r"(?m)^(?=TASK \[|RUNNING HANDLER \[|PLAY RECAP)", self.stdout)
        return [block for block in blocks if re.search(r"(?m)^changed: ", block)]

    @property
    def changed_tasks(self):
        """The headers of the tasks and handlers that reported a change ("TASK [role : name]")."""
        return [block.splitlines()[0].rstrip("* ") for block in self.changed_blocks]


def run_playbook(playbook=None, *options, extra_vars=None, succeed=True, timeout=900):
    """ansible-playbook on the scenario's inventory, in the environment Molecule gives the verifier.

    ``playbook``: a path relative to the checkout (``playbooks/sites.yml``), by default the scenario's converge.yml;
    ``extra_vars``: a dict passed as an extra-vars file (never on the command line: it may hold keys); ``succeed``:
    assert the run succeeded.
    """
    path = CHECKOUT / playbook if playbook else Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"
    inventory = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as extra:
        json.dump(extra_vars or {}, extra)
        extra.flush()
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory, str(path),
             "-e", f"@{extra.name}", *options],
            capture_output=True, text=True, check=False, timeout=timeout,
            env=dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1"),
        )  # fmt: skip
    run = PlaybookRun(completed.returncode, completed.stdout, completed.stderr)
    if succeed:
        assert run.returncode == 0, run.tail
    return run


@pytest.fixture(scope="session")
def ansible_playbook():
    """``run_playbook``: ``ansible_playbook()`` converges as Molecule does, ``ansible_playbook("playbooks/x.yml",
    "-e", "site=a", extra_vars={...}, succeed=False)`` runs another playbook; a PlaybookRun."""
    return run_playbook


# --- a --check --diff run on the converged server -----------------------------------------------------------

# Every folder a role writes to. Listed with metadata only (never content, which holds secrets): a write, even of
# the same bytes, a chmod or a file created and removed again changes a time stamp here.
SERVER_FOLDERS = ("/etc", "/srv", "/var/lib/wpzo", "/usr/local")
# What changes without any run, never listed: the sites' access and error logs; what WordPress writes into its
# uploads (its cron, on the site's timer, makes the month's folder there: wp_privacy_exports_dir); the backup runner's
# state of each site (a folder named by its domain) and of the server (_server), which its binary-log timer writes
# every 5 minutes (a run also makes every site's folder); the monitoring scenarios' notification recorder (their
# prepare.yml, not a role), which appends every alert Alertmanager sends it. No role's run writes in any of them.
SERVER_NOISE = (
    "/srv/www/*/logs",
    "/srv/www/*/public/wp-content/uploads",
    "/var/lib/wpzo/backups/_server",
    "/var/lib/wpzo/backups/*.*",
    "/srv/recorder",
)
# The folders where those make an entry of their own (WordPress's cron makes uploads, the runner its state folders):
# their time stamps change with it, so they are listed by type, mode and owner only.
SERVER_NOISE_PARENTS = ("/srv/www/*/public/wp-content", "/var/lib/wpzo/backups")


def path_regex(pattern):
    """A pattern of the lists above as a regular expression (for find's -regex and re): a * stays in one folder."""
    return "".join("[^/]*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))


def server_listing(host):
    """``{path: "type mode owner size mtime ctime"}`` of every entry in SERVER_FOLDERS on the instance."""
    prune = " -o ".join(f"-regex '{path_regex(pattern)}'" for pattern in SERVER_NOISE)
    folders = " ".join(folder for folder in SERVER_FOLDERS if host.file(folder).exists)
    listed = "-printf '%p\\t%y %m %U:%G %s %T@ %C@\\n'"
    result = host.run(f"find {folders} -xdev -regextype posix-extended \\( {prune} \\) -prune -o {listed}")
    assert result.rc == 0, result.stderr
    listing = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    parents = re.compile("|".join(path_regex(pattern) for pattern in SERVER_NOISE_PARENTS))
    return {path: " ".join(entry.split()[:3]) if parents.fullmatch(path) else entry for path, entry in listing.items()}


def controller_listing():
    """The same for the scenario's files on the controller: its credential store, keys and certificates."""
    listing = {}
    for path in sorted(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]).rglob("*")):
        stat = path.lstat()
        listing[str(path)] = f"{stat.st_mode:o} {stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns}"
    return listing


def changes(before, after):
    """The entries added, removed or altered, each with its metadata before and after."""
    return {path: (before.get(path), after.get(path)) for path in sorted(before.keys() | after.keys())
            if before.get(path) != after.get(path)}  # fmt: skip


@dataclass
class CheckRun:
    run: PlaybookRun
    server_changes: dict
    controller_changes: dict

    def assert_changed_nothing(self):
        """What README.md promises of ``--check --diff`` on a converged server: it reports no change on any host,
        and writes nothing on any host of the inventory nor on the controller (its credential store, keys,
        certificates)."""
        assert self.run.recaps, self.run.tail
        changed = {host: counters["changed"] for host, counters in self.run.recaps.items() if counters["changed"]}
        failed = {host: counters for host, counters in self.run.recaps.items()
                  if counters["failed"] or counters["unreachable"]}  # fmt: skip
        # One assertion for all four: a failure shows every lie of the run at once.
        found = {"changed": changed, "failed": failed, "server": self.server_changes,
                 "controller": self.controller_changes}  # fmt: skip
        said = "\n".join(block[:1500] for block in self.run.changed_blocks) if changed else self.run.tail
        assert found == {"changed": {}, "failed": {}, "server": {}, "controller": {}}, pprint.pformat(found) + said

    def assert_refused_before_any_change(self, *messages):
        """What README.md promises of bad input: the run fails, printing each of ``messages``, with no change
        reported on any host and nothing written on any host of the inventory nor on the controller."""
        assert self.run.recaps, self.run.tail
        changed = {host: counters["changed"] for host, counters in self.run.recaps.items() if counters["changed"]}
        found = {"succeeded": self.run.returncode == 0, "changed": changed,
                 "unsaid": [message for message in messages if message not in self.run.said],
                 "server": self.server_changes, "controller": self.controller_changes}  # fmt: skip
        expected = {"succeeded": False, "changed": {}, "unsaid": [], "server": {}, "controller": {}}
        assert found == expected, pprint.pformat(found) + self.run.tail


@pytest.fixture(scope="module")
def inventory_hosts(pytestconfig):
    """Every host of the scenario's inventory (the `host` fixture is one of them per test), by name."""
    option = pytestconfig.option
    hosts = testinfra.get_hosts(option.hosts.split(",") if option.hosts else [None], connection=option.connection,
                                ansible_inventory=option.ansible_inventory)  # fmt: skip
    return {host.backend.get_hostname(): host for host in hosts}


@pytest.fixture(scope="module")
def watched_run(inventory_hosts, ansible_playbook):
    """``watched_run(*arguments, **options)``: ``ansible_playbook`` with those, and what changed on every host of
    the inventory and on the controller while it ran; a CheckRun."""

    def servers():
        return {name: server_listing(host) for name, host in inventory_hosts.items()}

    def watch(*arguments, **options):
        server, controller = servers(), controller_listing()
        run = ansible_playbook(*arguments, **options)
        after = servers()
        server_changes = {name: changes(server[name], after[name]) for name in server}
        return CheckRun(run, {name: found for name, found in server_changes.items() if found},
                        changes(controller, controller_listing()))  # fmt: skip

    return watch


@pytest.fixture(scope="module")
def check_run(watched_run):
    """The scenario's converge playbook run with ``--check --diff`` on the converged servers, and what changed on
    every host of the inventory and on the controller while it ran (all must be nothing)."""
    return watched_run(None, "--check", "--diff")
