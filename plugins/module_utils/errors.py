# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type of the collection's modules.

``msg`` is the message, ``errors`` every individual problem (all reported at once), ``details`` extra keys of the
failed result (a tool's ``rc``, ``stdout``, ``stderr``). None of them may hold a secret: the module shell puts
them in the result as they are. Code here must stay Python 3.8 compatible (it runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleError(Exception):
    """Any failure a module reports."""

    def __init__(self, msg, errors=None, details=None):
        super(ModuleError, self).__init__(msg)
        self.msg = msg
        self.errors = list(errors or [])
        self.details = dict(details or {})

    def fail_args(self):
        """The keyword arguments of ``fail_json``."""
        return dict(self.details, msg=self.msg, errors=self.errors)


class ValidationError(ModuleError):
    """The input is wrong; nothing was read or written."""


class ApplyError(ModuleError):
    """Writing the desired state failed; the message says what was put back."""


class SiteError(ModuleError):
    """A failure of one site of a list; the module goes on with the others and fails at the end."""
