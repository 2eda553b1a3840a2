"""The installed packages and the services' states, from dpkg-query and systemctl output as Debian 12 prints it."""

from ansible_collections.wpzo.hosting.plugins.module_utils import server_facts as sf

DPKG = (
    "nginx\t1.22.1-9\tamd64\tii \n"
    "libc6\t2.36-9\tamd64\tii \n"
    "libc6\t2.36-9\ti386\tii \n"
    "apache2\t2.4.62-1\tamd64\trc \n"  # removed, its configuration files left: not installed
    "tzdata\t2024a-0\tall\tiU \n"  # unpacked, not configured: not installed
    "man-db\t2.11.2-2\tamd64\tit \n"  # installed, triggers pending
    "hello\t\t\tun \n"  # known to dpkg, never installed
)

UNITS = (
    "nginx.service            loaded    active   running The nginx HTTP and reverse proxy server\n"
    "nftables.service         loaded    active   exited  nftables\n"
    "redis-server.service     loaded    failed   failed  Advanced key-value store\n"
    "php8.2-fpm.service       loaded    inactive dead    The PHP 8.2 FastCGI Process Manager\n"
    "gone.service             not-found inactive dead    gone.service\n"
    "tmp.mount                loaded    active   mounted /tmp\n"
)

UNIT_FILES = (
    "nginx.service                enabled         enabled\n"
    "nftables.service             enabled         enabled\n"
    "redis-server.service         enabled         enabled\n"
    "php8.2-fpm.service           disabled        enabled\n"
    "mariadb.service              disabled        enabled\n"
    "mysql.service                alias           -\n"
    "getty@.service               enabled         enabled\n"
)


def test_only_installed_packages_are_listed_with_each_architecture():
    packages = sf.parse_packages(DPKG)
    assert sorted(packages) == ["libc6", "man-db", "nginx"]
    assert packages["nginx"] == [dict(name="nginx", version="1.22.1-9", arch="amd64", source="apt")]
    assert [entry["arch"] for entry in packages["libc6"]] == ["amd64", "i386"]


def test_a_unit_runs_only_when_systemd_says_running_and_its_status_is_the_unit_files_state():
    services = sf.parse_services(UNITS, UNIT_FILES)
    states = dict((name, (unit["state"], unit["status"])) for name, unit in services.items())
    assert states == {
        "nginx.service": ("running", "enabled"),
        "nftables.service": ("stopped", "enabled"),  # a oneshot unit, active and exited, is not running
        "redis-server.service": ("stopped", "failed"),  # failed whatever the unit file says
        "php8.2-fpm.service": ("stopped", "disabled"),
        "gone.service": ("stopped", "not-found"),
        "mariadb.service": ("stopped", "disabled"),  # not loaded by systemd: not running
        "mysql.service": ("stopped", "alias"),
        "getty@.service": ("stopped", "enabled"),
    }
    assert services["nginx.service"] == dict(name="nginx.service", state="running", status="enabled", source="systemd")


def test_empty_output_reads_as_nothing_installed_and_no_unit():
    assert sf.parse_packages("") == {}
    assert sf.parse_services("", "") == {}
