# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.wpzo.hosting.plugins.module_utils import htpasswd, site_model, site_resources


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
        "pools": site_resources.pools,
        "units": site_resources.site_units,
        "unit_triggers": site_resources.site_unit_triggers,
        "wordpress": site_resources.wordpress,
        "vhosts": site_resources.vhosts,
        "certificates": site_resources.certificates,
    }
    if kind not in builders:
        raise AnsibleFilterError("site_resources: unknown kind %r, expected one of %s" % (kind, ", ".join(builders)))
    return builders[kind](sites, **options)


def htpasswd_lines(users, current=""):
    """``name:hash`` lines of basic-auth users: a random salt each, the hash of ``current`` kept while it verifies."""
    try:
        return htpasswd.lines(users or [], current or "")
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("htpasswd_lines: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {
            "normalise_sites": normalise_sites,
            "select_site": select_site,
            "site_resources": site_resources_for,
            "htpasswd_lines": htpasswd_lines,
        }
