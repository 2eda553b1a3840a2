# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A swap file's state and what to do about it, for the wpzo.hosting.swap_file module: pure functions over what
the host shows (the file's first page, /etc/fstab, /proc/swaps), no I/O."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

# mkswap's version-2 signature ends the first page (util-linux writes "SWAPSPACE2"; "SWAP-SPACE" is version 1).
SIGNATURES = (b"SWAPSPACE2", b"SWAP-SPACE")
MODE = 0o600

# ``create``: the file is missing; ``fix_attributes``: not root's 0600; ``format``: no swap signature; ``fstab``:
# the new /etc/fstab text, or None; ``activate``: turn it on now.
Plan = collections.namedtuple("Plan", "create fix_attributes format fstab activate")


def has_signature(first_page, page_size):
    """Whether ``first_page`` (the file's first ``page_size`` bytes or fewer) carries mkswap's signature."""
    return len(first_page) >= page_size and first_page[page_size - 10 : page_size] in SIGNATURES


def fstab_line(path):
    return "%s none swap sw 0 0" % path


def fstab_text(current, path):
    """``current`` (the text of /etc/fstab) with exactly one swap line for ``path``, or None when it has it."""
    wanted = fstab_line(path)
    lines = current.splitlines()
    ours = [i for i, line in enumerate(lines) if line.split()[:1] == [path] and not line.lstrip().startswith("#")]
    if len(ours) == 1 and lines[ours[0]].split() == wanted.split():
        return None
    kept = [line for i, line in enumerate(lines) if i not in ours]
    return "\n".join([*kept, wanted]) + "\n"


def is_active(proc_swaps, path):
    """Whether /proc/swaps (its text) lists ``path``."""
    return any(line.split()[:1] == [path] for line in proc_swaps.splitlines()[1:])


def plan(path, exists, uid, mode, first_page, page_size, fstab, proc_swaps, activate):
    """What to do for the swap file ``path``: its state (``exists``, owner ``uid``, ``mode``, ``first_page``),
    /etc/fstab's text, /proc/swaps's text, and whether it is to be on now (``activate``: not in a container)."""
    create = not exists
    return Plan(
        create=create,
        fix_attributes=not create and (uid != 0 or mode != MODE),
        format=create or not has_signature(first_page, page_size),
        fstab=fstab_text(fstab, path),
        activate=activate and not is_active(proc_swaps, path),
    )
