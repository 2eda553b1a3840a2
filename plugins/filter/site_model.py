# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.wpzo.hosting.plugins.module_utils import site_model


def normalise_sites(sites, defaults=None, only=None):
    """Validated, normalised sites with every derived name; all problems at once."""
    try:
        return site_model.select(site_model.normalise_sites(sites, defaults), only=only)
    except site_model.SiteModelError as exc:
        raise AnsibleFilterError(
            "wpzo_sites is invalid (%d problems):\n- %s" % (len(exc.errors), "\n- ".join(exc.errors))
        ) from None


class FilterModule(object):
    def filters(self):
        return {"normalise_sites": normalise_sites}
