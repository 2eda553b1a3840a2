"""What an operator of a server converged with wpzo.hosting.base sees."""

import os
import re
import socket
import subprocess

import pytest

ADMIN_KEY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "admin_ed25519")


def ssh(address, user, command, *options):
    """Log in as a real SSH client would, without the host's ssh_config."""
    return subprocess.run(
        [
            "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", *options, f"{user}@{address}", command,
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def sshd_settings(host):
    settings = {}
    for line in host.check_output("sshd -T").splitlines():
        key, value = [*line.split(" ", 1), ""][:2]
        settings.setdefault(key, value)
    return settings


def test_a_check_diff_run_on_the_converged_server_changes_nothing(check_run):
    check_run.assert_changed_nothing()


def test_sshd_effective_settings_are_hardened(sshd_settings):
    assert sshd_settings["passwordauthentication"] == "no"
    assert sshd_settings["kbdinteractiveauthentication"] == "no"
    assert sshd_settings["permitrootlogin"] == "without-password"
    assert sshd_settings["x11forwarding"] == "no"
    assert sshd_settings["maxauthtries"] == "3"
    assert "cbc" not in sshd_settings["ciphers"]
    assert "sha1" not in sshd_settings["macs"]


def test_admin_logs_in_with_key_and_has_sudo(instance_ip):
    result = ssh(instance_ip, "opsadmin", "sudo -n id -u; echo $LANG", "-i", ADMIN_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "en_US.UTF-8"]


def test_password_login_is_refused(instance_ip):
    result = ssh(
        instance_ip, "opsadmin", "true", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"
    )
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_root_cannot_log_in_without_a_key(instance_ip):
    result = ssh(instance_ip, "root", "true", "-o", "PubkeyAuthentication=no")
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_removed_admin_is_gone(host):
    assert not host.user("formeradmin").exists


def test_admin_authorized_keys_are_exactly_the_listed_ones(host):
    keys = host.file("/home/opsadmin/.ssh/authorized_keys").content_string.strip().splitlines()
    with open(ADMIN_KEY + ".pub") as public:
        assert keys == [public.read().strip()]


@pytest.fixture(scope="module")
def listeners(host):
    """Something listening on an opened extra port (8443) and on a port never opened (8081)."""
    for port in (8081, 8443):
        host.run(f"systemd-run --unit=probe-listener-{port} python3 -m http.server {port}")
        # systemd-run returns before the server listens: poll for the socket, with a deadline.
        waited = host.run(f"timeout 30 sh -c 'until ss -Hltn sport = :{port} | grep -q .; do sleep 0.2; done'")
        assert waited.rc == 0, f"nothing listens on {port} after 30 s"
    yield
    for port in (8081, 8443):
        host.run(f"systemctl stop probe-listener-{port}")


def tcp_connect(address, port, timeout=3):
    """'open', 'refused' or 'timeout' for a TCP connection from the controller (the verifier's own machine)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):
        return "timeout"


@pytest.mark.usefixtures("listeners")
def test_firewall_from_another_machine(probe, instance_ip):
    assert probe.tcp_connect(instance_ip, 22) == "open"
    assert probe.tcp_connect(instance_ip, 8443) == "open"
    # The web ports are open to base_firewall_web_sources only (the controller): the probe is dropped.
    assert probe.tcp_connect(instance_ip, 80) == "timeout"
    assert probe.tcp_connect(instance_ip, 443) == "timeout"
    # A listening service on a port that was not opened is silently dropped.
    assert probe.tcp_connect(instance_ip, 8081) == "timeout"


def test_web_ports_open_to_the_listed_sources_only(instance_ip):
    """The controller is listed (converge.yml): port 80 opened, nothing listens, so the kernel refuses."""
    assert tcp_connect(instance_ip, 80) == "refused"
    assert tcp_connect(instance_ip, 22) == "open"


def test_web_sources_cover_ipv4_and_ipv6(host, instance_ip):
    ruleset = host.check_output("nft list chain inet wpzo input")
    with socket.create_connection((instance_ip, 22), timeout=5) as connection:
        controller = connection.getsockname()[0]
    assert re.search(rf"ip saddr {{? ?{re.escape(controller)} ?}}? tcp dport {{ 80, 443 }} accept", ruleset), ruleset
    assert "ip6 saddr 2001:db8:80::/48 tcp dport { 80, 443 } accept" in ruleset
    # Open to everyone: SSH and the extra port, no longer the web ports.
    everyone = next(line for line in ruleset.splitlines() if line.strip().startswith("tcp dport"))
    assert "22" in everyone and "8443" in everyone
    assert "80" not in everyone.replace("8443", "")


@pytest.mark.usefixtures("listeners")
def test_unopened_port_works_from_the_server_itself(host):
    assert host.run("curl -sf -o /dev/null http://127.0.0.1:8081/").rc == 0


def test_other_tools_firewall_tables_survive_the_firewall(host):
    """prepare.yml added table inet othertool before the first converge: starting and reloading the firewall
    replaces only the table inet wpzo (Debian's stock ruleset would have flushed everything)."""
    tables = host.check_output("nft list tables").splitlines()
    assert "table inet othertool" in tables, tables
    assert "table inet wpzo" in tables, tables


def test_firewall_is_loaded_at_boot(host):
    ruleset = host.check_output("nft list table inet wpzo")
    assert "policy drop" in ruleset
    assert host.service("nftables").is_enabled


def test_timezone_and_locales(host):
    assert host.check_output("date +%Z") in ("CET", "CEST")
    assert host.file("/etc/localtime").linked_to.endswith("Europe/Berlin")
    available = host.check_output("locale -a").split()
    assert {"en_US.utf8", "de_DE.utf8"} <= set(available)


def test_ntp_servers_configured(host):
    config = host.check_output("systemd-analyze cat-config systemd/timesyncd.conf")
    assert "NTP=ntp.example.net" in config
    assert host.service("systemd-timesyncd").is_enabled


def test_unattended_upgrades_take_security_updates_only(host):
    assert host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade") == (
        'APT::Periodic::Unattended-Upgrade "1";'
    )
    run = host.run("unattended-upgrade --dry-run --debug")
    allowed = next(line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Allowed origins are:"))
    assert "label=Debian-Security" in allowed
    assert "codename=bookworm," in allowed
    assert "origin=Debian,codename=bookworm-updates" not in allowed


def test_swap_file_prepared(host):
    swapfile = host.file("/swapfile")
    assert swapfile.mode == 0o600
    assert swapfile.user == "root"
    assert host.check_output("blkid -o value -s TYPE /swapfile") == "swap"
    assert "/swapfile none swap sw" in host.file("/etc/fstab").content_string
    # A container cannot swap on a file; on a server `swapon --show` lists it.


def test_journald_retention_in_effect(host):
    assert host.file("/var/log/journal").is_directory
    log = host.check_output("journalctl -b -u systemd-journald --no-pager -o cat")
    assert "max 200.0M" in log
