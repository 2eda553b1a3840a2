#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swap_file
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: A swap file allocated, root's only, formatted, in /etc/fstab and on, in one call
description:
  - Allocates O(path) with O(size_mb) MiB (C(posix_fallocate)) when it does not exist, owned by root with mode
    C(0600); corrects its owner and mode; formats it with C(mkswap) when its first page lacks the swap signature;
    keeps exactly one line for it in /etc/fstab (C(<path> none swap sw 0 0)); with O(activate), turns it on
    (C(swapon)) when /proc/swaps does not list it.
  - An existing file is never resized or reformatted while it carries the signature.
  - Reads the file's first page, /etc/fstab and /proc/swaps; runs nothing when all is as wanted.
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  path:
    description: The swap file.
    type: path
    required: true
  size_mb:
    description: Its size in MiB when it is created.
    type: int
    required: true
  activate:
    description: Turn it on now; false in a container, whose kernel (the host's) swaps on no file of it.
    type: bool
    default: true
  fstab:
    description: The file systems table.
    type: path
    default: /etc/fstab
"""

EXAMPLES = r"""
- name: Provide a 1 GiB swap file
  wpzo.hosting.swap_file:
    path: /swapfile
    size_mb: 1024
"""

RETURN = r"""
created:
  description: Whether the file was allocated.
  returned: always
  type: bool
  sample: false
formatted:
  description: Whether mkswap ran.
  returned: always
  type: bool
  sample: false
fstab_changed:
  description: Whether /etc/fstab got the file's line.
  returned: always
  type: bool
  sample: false
activated:
  description: Whether swapon ran.
  returned: always
  type: bool
  sample: false
"""

import os
import stat
import tempfile

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import swap_file as swap
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ApplyError, ValidationError

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    size_mb=dict(type="int", required=True),
    activate=dict(type="bool", default=True),
    fstab=dict(type="path", default="/etc/fstab"),
)


def read(path, size=None):
    with open(path, "rb") as handle:
        return handle.read(size) if size else handle.read()


def read_text(path):
    try:
        return read(path).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def compute(module):
    params = module.params
    path, page_size = params["path"], os.sysconf("SC_PAGE_SIZE")
    if params["size_mb"] < 1:
        raise ValidationError("size_mb must be at least 1")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ValidationError("%s exists and is not a regular file" % path)
    fstab = read_text(params["fstab"])
    the_plan = swap.plan(
        path,
        st is not None,
        st.st_uid if st else None,
        stat.S_IMODE(st.st_mode) if st else None,
        read(path, page_size) if st else b"",
        page_size,
        fstab,
        read_text("/proc/swaps"),
        params["activate"],
    )
    diff = []
    if the_plan.create or the_plan.fix_attributes:
        was = "absent" if st is None else "%s %04o" % (st.st_uid, stat.S_IMODE(st.st_mode))
        diff.append(dict(before_header=path, after_header=path, before=was + "\n", after="root 0600, swap\n"))
    if the_plan.fstab is not None:
        diff.append(
            dict(before_header=params["fstab"], after_header=params["fstab"], before=fstab, after=the_plan.fstab)
        )
    steps = [the_plan.create, the_plan.fix_attributes, the_plan.format, the_plan.fstab is not None, the_plan.activate]
    result = dict(
        changed=any(steps),
        created=the_plan.create,
        formatted=the_plan.format,
        fstab_changed=the_plan.fstab is not None,
        activated=the_plan.activate,
        diff=diff,
    )

    def run(argv):
        rc, _out, err = module.run_command(argv)
        if rc != 0:
            raise ApplyError("%s failed (rc=%d): %s" % (argv[0], rc, err.strip()))

    def apply():
        try:
            if the_plan.create:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, swap.MODE)
                try:
                    os.posix_fallocate(fd, 0, params["size_mb"] * 1024 * 1024)
                finally:
                    os.close(fd)
            os.chown(path, 0, 0)
            os.chmod(path, swap.MODE)
            if the_plan.fstab is not None:
                module.atomic_move(write_temp(params["fstab"], the_plan.fstab), params["fstab"])
        except OSError as exc:
            raise ApplyError("could not prepare %s: %s" % (exc.filename or path, exc)) from exc
        if the_plan.format:
            run(["mkswap", path])
        if the_plan.activate:
            run(["swapon", path])

    return module_shell.Change(result, apply if result["changed"] else None)


def write_temp(target, text):
    """A file beside ``target`` holding ``text``, for ``atomic_move`` (which gives it ``target``'s attributes)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix="." + os.path.basename(target) + ".wpzo-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return tmp


def main():
    module_shell.run(ARGUMENT_SPEC, compute)


if __name__ == "__main__":
    main()
