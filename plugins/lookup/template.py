# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: template
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: ansible.builtin.template's lookup without a copy of every variable for each file
description:
  - Renders each template file as M(ansible.builtin.template) and the C(ansible.builtin.template) lookup do, with
    the role's C(templates/) search path, every variable of the task, the C(template_*) variables and
    C(ansible_managed).
  - The builtin lookup deep-copies all the task's variables (the facts, the site model, every role's defaults)
    for each file it renders, a third of the controller's work outside the round trips in a no-change run of
    C(playbooks/site.yml) (C(docs/performance.md)); this one lays the file's own variables over the task's (a
    C(ChainMap)), which a template cannot change (a C(set) in it is local to it).
  - The builtin's other options (delimiters, C(trim_blocks)) are not offered; no template of the collection
    changes them.
options:
  _terms:
    description: Template files, found as the builtin lookup finds them (the role's C(templates/) first).
    required: true
    type: list
    elements: str
  template_vars:
    description: Variables of these templates only, over the task's.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write the role's files in one call
  wpzo.hosting.managed_files:
    files:
      - path: /etc/example/example.conf
        content: "{{ lookup('wpzo.hosting.template', 'example.conf.j2') }}"
      - path: /etc/example/second.conf
        content: "{{ lookup('wpzo.hosting.template', 'instance.conf.j2', template_vars={'instance': 'second'}) }}"
"""

RETURN = r"""
_raw:
  description: The rendered text of each file.
  type: list
  elements: str
"""

import os
from collections import ChainMap

from ansible._internal._templating import _template_vars
from ansible._internal._templating._engine import TemplateOptions
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.template import trust_as_template


def search_path(variables, lookupfile):
    """The builtin's Jinja search path for includes: each role path's templates/ then the path, the file's folder
    first."""
    paths = [os.path.dirname(lookupfile)]
    for path in variables.get("ansible_search_path", []):
        paths += [os.path.join(path, "templates"), path]
    return paths


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        self.set_options(var_options=variables, direct=kwargs)
        given = self.get_option("template_vars")
        rendered = []
        for term in terms:
            lookupfile = self.find_file_in_search_path(variables, "templates", term)
            if not lookupfile:
                raise AnsibleLookupError("the template file %s could not be found for the lookup" % term)
            own = _template_vars.generate_ansible_template_vars(
                path=term, fullpath=lookupfile, include_ansible_managed="ansible_managed" not in variables
            )
            templar = self._templar.copy_with_new_env(
                available_variables=ChainMap(given, own, variables), searchpath=search_path(variables, lookupfile)
            )
            text = trust_as_template(self._loader.get_text_file_contents(lookupfile))
            # The internal API, as the builtin lookup: no top-level finalisation of the result.
            rendered.append(templar._engine.template(text, options=TemplateOptions(escape_backslashes=False)))
        return rendered
