# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.wpzo.hosting.plugins.module_utils import tls_certificates as tls


def certificate_pair_problems(pairs):
    """Problems of custom certificates, each naming its site and field; never any key material.

    ``pairs``: [{domain, names, certificate (PEM text), certificate_key (PEM text)}].
    """
    if not tls.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError("certificate_pair_problems needs the Python package cryptography on the controller")
    return [
        "%s: %s" % (pair["domain"], problem)
        for pair in pairs
        for problem in tls.pair_problems(pair["certificate"], pair["certificate_key"], pair["names"])
    ]


class FilterModule(object):
    def filters(self):
        return {"certificate_pair_problems": certificate_pair_problems}
