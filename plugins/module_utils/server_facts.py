# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed packages, the units' states and the few settings the roles compare, parsed from what the server says.

The shapes are those of ``ansible.builtin.package_facts`` (``packages``: name -> list of installed versions) and
``ansible.builtin.service_facts`` (``services``: unit -> name, state, status, source), so a role reads
``ansible_facts['packages']`` and ``ansible_facts['services']`` the same way whichever module set them. What is
left out is what made those modules slow on Debian: python-apt's whole cache (package_facts), ``service
--status-all`` running every SysV script's ``status`` and one ``systemctl show`` per unit file not loaded
(service_facts). A unit that systemd has not loaded is not running, so its state needs no question.

The same reading gives what the roles compare to skip a module call each: the timers and the active services (a
oneshot unit such as nftables is active, never running), the local groups and accounts, the timezone, the
generated locales and the kernel settings the roles set. A timezone, setting, group or account file that cannot be
read reads as one that differs, so a role runs its module: a wrong reading can only cost time, never skip a step.
No password hash leaves this reading: an account's password is reported only when it is none (locked, empty).

Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# One line a package: name, version, architecture, dpkg's two-letter status (wanted, current).
DPKG_QUERY = ["dpkg-query", "--show", "--showformat=${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n"]
LIST_UNITS = ["systemctl", "list-units", "--type=service,timer", "--all", "--plain", "--no-legend", "--no-pager"]
LIST_UNIT_FILES = ["systemctl", "list-unit-files", "--type=service,timer", "--no-legend", "--no-pager"]
# The locales generated, as glibc names them (en_US.utf8), one a line.
LIST_LOCALES = ["locale", "-a"]
LOCALTIME = "/etc/localtime"
# Where systemd-timedated (timedatectl, which community.general.timezone asks) finds the zone's name in the link.
ZONEINFO_PREFIXES = ("/usr/share/zoneinfo/", "../usr/share/zoneinfo/")
# The kernel settings the roles set (base: vm.swappiness), read from /proc/sys.
SYSCTL_KEYS = ("vm.swappiness",)
GROUP_FILE = "/etc/group"
PASSWD_FILE = "/etc/passwd"  # noqa: S105 (a path, no password)
SHADOW_FILE = "/etc/shadow"
# The password fields of /etc/shadow that hold no hash (locked, never set, empty): the only ones reported as they
# are; any other reads "hashed".
PASSWORD_MARKERS = frozenset(["", "!", "*", "!!", "!*"])

# dpkg's current states of an unpacked and configured package (installed, triggers awaited or pending).
INSTALLED_STATES = frozenset("iWt")
# A unit in one of these reads so whatever its unit file says (as service_facts reports it).
BAD_STATES = frozenset(["not-found", "masked", "failed"])


def parse_packages(output):
    """``{name: [{name, version, arch, source}]}`` of the installed packages in ``dpkg-query`` output."""
    packages = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) != 4 or len(fields[3]) < 2 or fields[3][1] not in INSTALLED_STATES:
            continue
        name, version, arch = fields[:3]
        packages.setdefault(name, []).append(dict(name=name, version=version, arch=arch, source="apt"))
    return packages


def parse_services(units_output, unit_files_output, suffix=".service"):
    """``{unit: {name, state, status, source}}`` from ``systemctl list-units`` and ``list-unit-files`` output, for
    the units whose name ends with ``suffix`` (``.service``, ``.timer``).

    ``state`` is ``running`` or ``stopped`` (a service: running; a timer: active, waiting for its next elapse or
    elapsing); ``status`` is the unit file's state (``enabled``, ``disabled``, ``static``...), or ``not-found``,
    ``masked`` or ``failed`` when the unit is in that state."""
    units = {}
    for line in units_output.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 4 or not fields[0].endswith(suffix):
            continue
        name, load, active, sub = fields[:4]
        bad = [state for state in (load, active, sub) if state in BAD_STATES]
        running = active == "active" if suffix == ".timer" else sub == "running"
        units[name] = dict(
            name=name,
            state="running" if running else "stopped",
            status=bad[0] if bad else active,
            source="systemd",
        )
    for line in unit_files_output.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].endswith(suffix):
            continue
        name, status = fields[:2]
        unit = units.setdefault(name, dict(name=name, state="stopped", status=status, source="systemd"))
        if unit["status"] not in BAD_STATES:
            unit["status"] = status
    return units


def parse_active_services(units_output):
    """The service units ``systemctl list-units`` shows active, sorted: running, or a oneshot unit that ran and
    stays active after its exit (nftables), which ``services`` shows stopped."""
    active = []
    for line in units_output.splitlines():
        fields = line.split(None, 4)
        if len(fields) >= 4 and fields[0].endswith(".service") and fields[2] == "active":
            active.append(fields[0])
    return sorted(active)


def unit_up(facts, name, running=True):
    """Whether ``facts`` (as this reading sets them) show the unit ``name`` (``nginx``, ``nginx.service``,
    ``wpzo-php-fpm-metrics.timer``) enabled at boot and, unless ``running`` is false, up now: a service running or
    active (a oneshot that ran and stays active, nftables), a timer active. A unit missing from the reading, or a
    reading without the timers or active services, is not up, so a role runs its module: a wrong reading can only
    cost time, never skip a start."""
    unit = name if name.endswith((".service", ".timer")) else name + ".service"
    is_timer = unit.endswith(".timer")
    state = (facts.get("timers" if is_timer else "services") or {}).get(unit) or {}
    if state.get("status") != "enabled":
        return False
    if not running or state.get("state") == "running":
        return True
    return not is_timer and unit in (facts.get("active_services") or [])


def parse_timezone(link_target):
    """The zone ``/etc/localtime`` links to (``Etc/UTC``), as timedatectl names it; ``""`` for no link into the
    zone files (``None``: not a link, or none)."""
    for prefix in ZONEINFO_PREFIXES:
        if link_target and link_target.startswith(prefix) and len(link_target) > len(prefix):
            return link_target[len(prefix) :]
    return ""


def parse_locales(output):
    """The locales ``locale -a`` lists, sorted (``C.utf8``, ``en_US.utf8``, ``POSIX``)."""
    return sorted(line.strip() for line in output.splitlines() if line.strip())


def locale_name(locale):
    """A locale as ``locale -a`` lists it: the codeset normalised as glibc does (``_nl_normalize_codeset``: letters
    lowercased, digits kept, anything else dropped, ``iso`` before a codeset of digits only), so ``en_US.UTF-8``
    reads ``en_US.utf8`` and ``de_DE.ISO-8859-1`` ``de_DE.iso88591``; a locale without a codeset as it is."""
    name, at, modifier = locale.partition("@")
    language, dot, codeset = name.partition(".")
    if not dot:
        return locale
    normal = "".join(char.lower() for char in codeset if char.isalnum())
    if normal.isdigit():
        normal = "iso" + normal
    return language + "." + normal + at + modifier


def parse_group_names(content):
    """The names of the groups an /etc/group content lists, sorted."""
    names = set()
    for line in content.splitlines():
        name = line.split(":", 1)[0].strip()
        if name and not name.startswith(("#", "+", "-")):
            names.add(name)
    return sorted(names)


def parse_users(passwd, group, shadow):
    """``{name: {group, home, shell, password}}`` of the accounts a /etc/passwd content lists: ``group`` the primary
    group's name (its gid when the /etc/group content does not name it), ``password`` the /etc/shadow field when it
    holds no hash (``!``, ``*``, empty), ``"hashed"`` when it does, ``None`` when the shadow content does not list
    the account (or could not be read). Never a hash."""
    group_names = {}
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0]:
            group_names.setdefault(fields[2], fields[0])
    passwords = {}
    for line in shadow.splitlines():
        fields = line.split(":")
        if len(fields) >= 2 and fields[0]:
            passwords[fields[0]] = fields[1] if fields[1] in PASSWORD_MARKERS else "hashed"
    users = {}
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) != 7 or not fields[0] or fields[0].startswith(("#", "+", "-")):
            continue
        name, gid, home, shell = fields[0], fields[3], fields[5], fields[6]
        users[name] = dict(group=group_names.get(gid, gid), home=home, shell=shell, password=passwords.get(name))
    return users


def sysctl_path(key):
    """The /proc/sys file of a kernel setting (``vm.swappiness``: ``/proc/sys/vm/swappiness``)."""
    return "/proc/sys/" + key.replace(".", "/")
