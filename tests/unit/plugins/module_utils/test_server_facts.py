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


TIMER_UNITS = (
    "apt-daily.timer              loaded    active   waiting Daily apt download activities\n"
    "wpzo-php-fpm-metrics.timer   loaded    inactive dead    PHP-FPM metrics\n"
    "broken.timer                 loaded    failed   failed  Broken\n"
)

TIMER_UNIT_FILES = (
    "apt-daily.timer              enabled         enabled\n"
    "wpzo-php-fpm-metrics.timer   enabled         enabled\n"
    "broken.timer                 enabled         enabled\n"
    "fstrim.timer                 disabled        enabled\n"
)


def test_timers_have_the_shape_of_services_and_run_while_active():
    timers = sf.parse_services(UNITS + TIMER_UNITS, UNIT_FILES + TIMER_UNIT_FILES, suffix=".timer")
    states = dict((name, (unit["state"], unit["status"])) for name, unit in timers.items())
    assert states == {
        "apt-daily.timer": ("running", "enabled"),  # waiting for its next elapse
        "wpzo-php-fpm-metrics.timer": ("stopped", "enabled"),
        "broken.timer": ("stopped", "failed"),
        "fstrim.timer": ("stopped", "disabled"),  # not loaded
    }
    assert timers["apt-daily.timer"]["source"] == "systemd"
    # Neither listing's timers leak into the services.
    assert not [
        name
        for name in sf.parse_services(UNITS + TIMER_UNITS, UNIT_FILES + TIMER_UNIT_FILES)
        if not name.endswith(".service")
    ]


def test_active_services_include_a_oneshot_unit_that_ran_but_no_timer_and_no_other_state():
    assert sf.parse_active_services(UNITS + TIMER_UNITS) == ["nftables.service", "nginx.service"]


def test_a_unit_is_up_only_enabled_and_running_or_active_and_a_missing_reading_is_never_up():
    units, files = UNITS + TIMER_UNITS, UNIT_FILES + TIMER_UNIT_FILES
    facts = dict(
        services=sf.parse_services(units, files),
        timers=sf.parse_services(units, files, suffix=".timer"),
        active_services=sf.parse_active_services(units),
    )
    up = [
        name
        for name in (
            "nginx",
            "nftables.service",
            "redis-server",
            "php8.2-fpm",
            "mariadb",
            "gone",
            "absent",
            "apt-daily.timer",
            "wpzo-php-fpm-metrics.timer",
            "broken.timer",
            "fstrim.timer",
        )
        if sf.unit_up(facts, name)
    ]
    assert up == ["nginx", "nftables.service", "apt-daily.timer"]
    # Enabled at boot is enough when it need not run now; a failed or disabled unit is never enabled.
    assert sf.unit_up(facts, "wpzo-php-fpm-metrics.timer", running=False)
    assert not sf.unit_up(facts, "redis-server", running=False)
    assert not sf.unit_up(facts, "php8.2-fpm", running=False)
    # The oneshot's active state comes from the active services: without them (another module's facts) it is not up.
    assert not sf.unit_up(dict(services=facts["services"]), "nftables")
    assert not sf.unit_up(dict(services=facts["services"]), "apt-daily.timer")
    assert not sf.unit_up({}, "nginx")


def test_the_timezone_is_the_zone_localtime_links_to_and_empty_for_anything_else():
    assert sf.parse_timezone("/usr/share/zoneinfo/Etc/UTC") == "Etc/UTC"
    assert sf.parse_timezone("../usr/share/zoneinfo/Europe/Paris") == "Europe/Paris"
    assert sf.parse_timezone(None) == ""  # no link, or no file: timedatectl's answer is not read, the module runs
    assert sf.parse_timezone("/usr/share/zoneinfo/") == ""
    assert sf.parse_timezone("/etc/zones/UTC") == ""


def test_locales_are_listed_as_locale_a_prints_them():
    assert sf.parse_locales("C\nC.utf8\nen_US.utf8\nPOSIX\n\n") == ["C", "C.utf8", "POSIX", "en_US.utf8"]
    assert sf.parse_locales("") == []


def test_a_locale_is_named_as_locale_a_lists_it():
    assert sf.locale_name("en_US.UTF-8") == "en_US.utf8"
    assert sf.locale_name("de_DE.ISO-8859-1") == "de_DE.iso88591"
    assert sf.locale_name("ja_JP.EUC-JP") == "ja_JP.eucjp"
    assert sf.locale_name("sr_RS.UTF-8@latin") == "sr_RS.utf8@latin"
    assert sf.locale_name("ru_RU.8859-5") == "ru_RU.iso88595"  # a codeset of digits only
    assert sf.locale_name("C") == "C"
    assert sf.locale_name("de_DE@euro") == "de_DE@euro"


def test_a_kernel_setting_is_read_from_its_proc_sys_file():
    assert sf.sysctl_path("vm.swappiness") == "/proc/sys/vm/swappiness"


def test_group_names_are_the_first_field_of_each_group_line():
    content = "root:x:0:\nwpzo-admin:x:999:alice,bob\n\n+nis-entry::::\nwww-data:x:33:\n"
    assert sf.parse_group_names(content) == ["root", "wpzo-admin", "www-data"]
    assert sf.parse_group_names("") == []


def test_an_account_reads_its_primary_group_by_name_its_home_shell_and_a_password_that_is_no_hash():
    passwd = (
        "root:x:0:0:root:/root:/bin/bash\n"
        "wpzo-fpm-status:x:998:997::/nonexistent:/usr/sbin/nologin\n"
        "orphan:x:1001:4242::/home/orphan:/bin/sh\n"
        "+nis-entry::::::\n"
        "broken:x:1\n"
    )
    group = "root:x:0:\nwpzo-fpm-status:x:997:\n"
    shadow = "root:$y$j9T$salt$hash:19000:0:99999:7:::\nwpzo-fpm-status:!:19000::::::\norphan:*:19000::::::\n"
    users = sf.parse_users(passwd, group, shadow)
    assert sorted(users) == ["orphan", "root", "wpzo-fpm-status"]
    assert users["wpzo-fpm-status"] == {
        "group": "wpzo-fpm-status",
        "home": "/nonexistent",
        "shell": "/usr/sbin/nologin",
        "password": "!",
    }
    assert users["orphan"]["group"] == "4242" and users["orphan"]["password"] == "*"
    assert users["root"]["password"] == "hashed"
    assert "$y$" not in repr(users)


def test_an_unreadable_shadow_reads_as_no_password_known_and_an_unreadable_passwd_as_no_account():
    passwd = "wpzo-fpm-status:x:998:997::/nonexistent:/usr/sbin/nologin\n"
    assert sf.parse_users(passwd, "", "")["wpzo-fpm-status"]["password"] is None
    assert sf.parse_users("", "root:x:0:\n", "root:!::::::\n") == {}
