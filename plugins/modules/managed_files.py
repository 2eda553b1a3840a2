#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: managed_files
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Write a whole set of configuration files in one call, validated, with rollback
description:
  - Writes every listed file whose content, owner, group or mode differs, leaves the others untouched, and removes
    files that match O(purge) and carry the marker but are no longer listed.
  - Files are written to a temporary file beside them and renamed into place. When anything changed, the
    O(validate) command runs (for example C(nginx -t)); if it fails, every file is restored and the task fails
    with the command's message, so a broken configuration never replaces a working one.
  - Meant for hundreds of small files at once (nginx vhosts, systemd units of every site) in one call, not a loop.
  - Every file's content must carry the marker (O(marker)) in its first 512 bytes; an existing file without it is
    never overwritten or removed.
extends_documentation_fragment:
  - wpzo.hosting.attributes
options:
  files:
    description: The files.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      content:
        description: Full content.
        type: str
        required: true
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
      mode:
        description: Mode, as a quoted octal string.
        type: str
        default: "0644"
      secret:
        description: Hide the content in the diff.
        type: bool
        default: false
  purge:
    description: Glob patterns; a file they match that carries the marker and is not listed is removed.
    type: list
    elements: str
    default: []
  validate:
    description: Command (argument list, no shell) run after writing when anything changed; non-zero rolls back.
    type: list
    elements: str
    default: []
  marker:
    description: Text that marks a file as managed.
    type: str
    default: Managed by wpzo.hosting
"""

EXAMPLES = r"""
- name: Write the vhosts of every site, checked with nginx -t
  wpzo.hosting.managed_files:
    files:
      - path: /etc/nginx/sites-enabled/example.com.conf
        content: "{{ lookup('ansible.builtin.template', 'vhost.conf.j2') }}"
    purge:
      - /etc/nginx/sites-enabled/*.conf
    validate: [nginx, -t]
  notify: nginx reload
"""

RETURN = r"""
added:
  description: Paths written that did not exist.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/sites-enabled/example.com.conf]
updated:
  description: Paths whose content, owner, group or mode changed.
  returned: always
  type: list
  elements: str
  sample: []
removed:
  description: Managed paths purged.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wpzo.hosting.plugins.module_utils import managed_files as mf


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="path", required=True),
                    content=dict(type="str", required=True),
                    owner=dict(type="str", default="root"),
                    group=dict(type="str", default="root"),
                    mode=dict(type="str", default="0644"),
                    secret=dict(type="bool", default=False),
                ),
            ),
            purge=dict(type="list", elements="str", default=[]),
            validate=dict(type="list", elements="str", default=[]),
            marker=dict(type="str", default=mf.MARKER),
        ),
        supports_check_mode=True,
    )
    params = module.params
    marker = params["marker"]
    try:
        specs = [mf.file_spec(f["path"], f["content"], f["owner"], f["group"], f["mode"]) for f in params["files"]]
    except ValueError as exc:
        module.fail_json(msg="invalid mode: %s" % exc)
    errors = mf.validate_specs(specs, marker)
    if errors:
        module.fail_json(msg="invalid files: %s" % "; ".join(errors), errors=errors)

    existing = mf.read_existing(specs, params["purge"], marker)
    the_plan = mf.plan(specs, existing, marker)
    if the_plan.conflicts:
        errors = ["%s exists and is not managed (no marker): remove it or rename" % p for p in the_plan.conflicts]
        module.fail_json(msg="refusing to overwrite unmanaged files: %s" % "; ".join(errors), errors=errors)

    result = dict(changed=the_plan.changed, added=the_plan.added, updated=the_plan.updated, removed=the_plan.removed)
    if module._diff:
        secret_paths = set(f["path"] for f in params["files"] if f["secret"])
        secret_paths.update(p for p in the_plan.removed if p not in secret_paths)
        result["diff"] = [
            dict(entry, before="(secret)\n", after="(secret)\n")
            if entry["after_header"] in secret_paths or entry["before_header"] in secret_paths
            else entry
            for entry in mf.build_diff(the_plan, specs, existing)
        ]

    if the_plan.changed and not module.check_mode:
        validator = None
        if params["validate"]:

            def validator():
                return module.run_command(params["validate"])

        try:
            mf.apply(the_plan, specs, existing, validator, what=" ".join(params["validate"]) or "configuration")
        except mf.ManagedFilesError as exc:
            module.fail_json(msg=exc.msg, errors=exc.errors, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
