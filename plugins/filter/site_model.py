# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.wpzo.hosting.plugins.module_utils import site_model, site_names, site_resources


def _report(exc):
    what = "sites_defaults" if all(e.startswith("sites_defaults") for e in exc.errors) else "wpzo_sites"
    return AnsibleFilterError("%s is invalid (%d problems):\n- %s" % (what, len(exc.errors), "\n- ".join(exc.errors)))


def normalise_sites(sites, defaults=None):
    """Validated, normalised sites with every derived name; all problems at once."""
    try:
        return site_model.normalise_sites(sites, defaults)
    except site_model.SiteModelError as exc:
        raise _report(exc) from None


def select_site(sites, only=None):
    """The normalised sites limited to one domain (-e site=); all of them when only is empty."""
    try:
        return site_model.select(sites, only=only)
    except site_model.SiteModelError as exc:
        raise _report(exc) from None


def site_resources_for(sites, kind, **options):
    """The input of one resource module for the whole site list."""
    builders = {
        "accounts": site_resources.accounts,
        "backups": site_resources.backups,
        "pools": site_resources.pools,
        "databases": site_resources.databases,
        "redis_users": site_resources.redis_users,
        "site_logs": site_resources.site_logs,
        "basic_auth": site_resources.basic_auth,
        "units": site_resources.units,
        "wordpress": site_resources.wordpress,
        "vhosts": site_resources.vhosts,
        "certificates": site_resources.certificates,
        "monitored_pools": site_resources.monitored_pools,
        "monitored_wordpress": site_resources.monitored_wordpress,
        "probes": site_resources.probes,
    }
    if kind not in builders:
        raise AnsibleFilterError("site_resources: unknown kind %r, expected one of %s" % (kind, ", ".join(builders)))
    try:
        return builders[kind](sites, **options)
    except ValueError as exc:  # a basic-auth user without a password
        raise AnsibleFilterError("site_resources(%s): %s" % (kind, exc)) from None


def site_names_for(entries, variable):
    """The derived names (and credential keys) of each entry of a tier role's site list; all problems at once."""
    try:
        return site_names.name_sites(entries, variable)
    except ValueError as exc:
        raise AnsibleFilterError("Invalid %s:\n- %s" % (variable, str(exc).replace("\n", "\n- "))) from None


class FilterModule(object):
    def filters(self):
        return {
            "normalise_sites": normalise_sites,
            "select_site": select_site,
            "site_resources": site_resources_for,
            "site_names": site_names_for,
        }
