"""The example inventory documents every public variable of every role, and no variable a role no longer has."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[3]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults" / "main.yml").exists())


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_is_shown_commented_in_the_example_inventory(role):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    example = ROOT / "inventories" / "example" / "group_vars" / "all" / f"{role}.yml"
    assert example.exists(), f"{example.relative_to(ROOT)} is missing"
    text = example.read_text()
    missing = [name for name in defaults if f"# {name}:" not in text]
    assert missing == [], f"{example.relative_to(ROOT)} does not show {missing}"
    shown = re.findall(r"^# (%s_\w+):" % re.escape(role), text, re.M)
    removed = [name for name in shown if name not in defaults]
    assert removed == [], f"{example.relative_to(ROOT)} shows {removed}, which the role no longer has"
