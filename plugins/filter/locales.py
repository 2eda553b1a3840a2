# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wpzo.hosting.plugins.module_utils import server_facts


class FilterModule(object):
    def filters(self):
        return {"locale_name": server_facts.locale_name}
