"""Fixtures shared by every scenario's testinfra verifier.

Tests run on the controller; they reach the converged container the way a user
would (over the network, by its address on the scenario's Docker network) and
use a throwaway probe container as a second machine on that network.
"""

import os
import subprocess
import sys

import pytest

# A scenario's test modules share helpers (`from test_sites import ...`): pytest runs with --import-mode=importlib
# (pyproject.toml), which puts no test folder on sys.path, so the scenario's own is put there.
sys.path.insert(0, os.path.join(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", ""), "tests"))

IMAGE = os.environ.get("WPZO_TEST_IMAGE", "wpzo/debian12-systemd:latest")
NETWORK = "wpzo-net-" + os.environ.get("MOLECULE_SCENARIO_NAME", "default")


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
