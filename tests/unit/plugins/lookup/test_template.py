"""The lookup as a role's task calls it (``ansible-playbook`` in a subprocess, a role's templates/ folder): the same
text as ansible.builtin.template's lookup, whatever the template uses, and nothing it sets leaks out."""

import json
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.wpzo.hosting.plugins.lookup import template

COLLECTIONS = str(Path(template.__file__).parents[5])

PAGE = """# {{ ansible_managed }}
{% for item in items %}
{{ item }} of {{ owner }} in {{ template_path | basename }}
{% endfor %}
{% set leaked = 'set here' %}
{% include 'part.j2' %}
"""
PART = "part for {{ instance | default('no instance') }}; {{ leaked | default('alone') }}\n"

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    owner: www-data
    items: [one, two]
  roles: [probe]
"""
TASKS = """
- name: Render with both lookups
  ansible.builtin.debug:
    msg:
      builtin: "{{ lookup('ansible.builtin.template', 'page.j2') }}"
      ours: "{{ lookup('wpzo.hosting.template', 'page.j2') }}"
      builtin_vars: "{{ lookup('ansible.builtin.template', 'page.j2', template_vars={'instance': 'second'}) }}"
      ours_vars: "{{ lookup('wpzo.hosting.template', 'page.j2', template_vars={'instance': 'second'}) }}"
      ours_list: "{{ query('wpzo.hosting.template', 'page.j2', 'part.j2') }}"
      leaked: "{{ leaked | default('nothing') }}"
      instance: "{{ instance | default('nothing') }}"
"""


def rendered(tmp_path):
    role = tmp_path / "roles" / "probe"
    (role / "templates").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "templates" / "page.j2").write_text(PAGE)
    (role / "templates" / "part.j2").write_text(PART)
    (role / "tasks" / "main.yml").write_text(TASKS)
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
    )
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "play.yml"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    task = json.loads(result.stdout)["plays"][0]["tasks"][0]
    return task["hosts"]["localhost"]["msg"]


def test_the_text_is_the_builtin_lookups_and_nothing_leaks(tmp_path):
    msg = rendered(tmp_path)
    assert msg["ours"] == msg["builtin"]
    assert msg["ours"].startswith("# Ansible managed\none of www-data in page.j2\ntwo of www-data in page.j2\n")
    assert msg["ours"].endswith("part for no instance; set here\n")
    assert msg["ours_vars"] == msg["builtin_vars"]
    assert "part for second; set here" in msg["ours_vars"]
    assert msg["ours_list"] == [msg["ours"], "part for no instance; alone\n"]
    assert (msg["leaked"], msg["instance"]) == ("nothing", "nothing")


def test_no_role_renders_with_the_builtin_lookup():
    roles = Path(COLLECTIONS) / "ansible_collections" / "wpzo" / "hosting" / "roles"
    builtin = [str(path) for path in roles.rglob("*.yml") if "lookup('ansible.builtin.template'" in path.read_text()]
    assert list(roles.rglob("tasks/main.yml")), roles  # the roles are there to read
    assert builtin == []
