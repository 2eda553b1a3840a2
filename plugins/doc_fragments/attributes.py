# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every module of the collection supports check mode and diff in full, on POSIX hosts.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Can run in check mode and return what would change, without changing anything.
  diff_mode:
    support: full
    description: Returns what changed (or would change) in diff mode; secrets are masked.
  platform:
    support: full
    platforms: posix
    description: Debian-family Linux hosts.
"""
