# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed packages and the services' states, parsed from dpkg-query and systemctl.

The shapes are those of ``ansible.builtin.package_facts`` (``packages``: name -> list of installed versions) and
``ansible.builtin.service_facts`` (``services``: unit -> name, state, status, source), so a role reads
``ansible_facts['packages']`` and ``ansible_facts['services']`` the same way whichever module set them. What is
left out is what made those modules slow on Debian: python-apt's whole cache (package_facts), ``service
--status-all`` running every SysV script's ``status`` and one ``systemctl show`` per unit file not loaded
(service_facts). A unit that systemd has not loaded is not running, so its state needs no question.

Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# One line a package: name, version, architecture, dpkg's two-letter status (wanted, current).
DPKG_QUERY = ["dpkg-query", "--show", "--showformat=${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n"]
LIST_UNITS = ["systemctl", "list-units", "--type=service", "--all", "--plain", "--no-legend", "--no-pager"]
LIST_UNIT_FILES = ["systemctl", "list-unit-files", "--type=service", "--no-legend", "--no-pager"]

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


def parse_services(units_output, unit_files_output):
    """``{unit: {name, state, status, source}}`` from ``systemctl list-units`` and ``list-unit-files`` output.

    ``state`` is ``running`` or ``stopped``; ``status`` is the unit file's state (``enabled``, ``disabled``,
    ``static``...), or ``not-found``, ``masked`` or ``failed`` when the unit is in that state."""
    services = {}
    for line in units_output.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 4 or not fields[0].endswith(".service"):
            continue
        name, load, active, sub = fields[:4]
        bad = [state for state in (load, active, sub) if state in BAD_STATES]
        services[name] = dict(
            name=name,
            state="running" if sub == "running" else "stopped",
            status=bad[0] if bad else active,
            source="systemd",
        )
    for line in unit_files_output.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].endswith(".service"):
            continue
        name, status = fields[:2]
        unit = services.setdefault(name, dict(name=name, state="stopped", status=status, source="systemd"))
        if unit["status"] not in BAD_STATES:
            unit["status"] = status
    return services
