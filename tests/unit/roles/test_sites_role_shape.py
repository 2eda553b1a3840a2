"""The sites role is orchestration only (issue 13's shape): it owns no handler, and it reaches each tier through
that tier role's per-site entry point, each with an argument spec of its own, never through a tier's module."""

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
SITES_TASKS = sorted((ROLES / "sites" / "tasks").glob("*.yml"))
TIERS = ["nginx", "php_fpm", "mariadb", "redis", "fail2ban", "backups"]
# The modules whose resources a tier role owns: only that role calls them.
TIER_MODULES = ["wpzo.hosting.php_fpm_pool", "wpzo.hosting.mariadb_sites", "wpzo.hosting.redis_acl"]
ROLE_CALLS = ("ansible.builtin.import_role", "ansible.builtin.include_role")


def tasks(path):
    """Every task of a tasks file, those inside blocks too."""
    pending = list(yaml.safe_load(path.read_text()) or [])
    while pending:
        task = pending.pop()
        for key in ("block", "rescue", "always"):
            pending.extend(task.get(key) or [])
        yield task


SITES_ROLE_CALLS = [(path.name, task) for path in SITES_TASKS for task in tasks(path) if set(task) & set(ROLE_CALLS)]


def test_the_sites_role_keeps_no_handlers():
    assert not (ROLES / "sites" / "handlers").exists()


@pytest.mark.parametrize("tier", TIERS)
def test_every_tier_role_has_a_sites_entry_point_with_its_own_argument_spec(tier):
    assert (ROLES / tier / "tasks" / "sites.yml").is_file()
    specs = yaml.safe_load((ROLES / tier / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert "sites" in specs and specs["sites"].get("options")


def test_the_sites_role_calls_every_tier_and_only_through_its_entry_points():
    called = set()
    for name, task in SITES_ROLE_CALLS:
        call = next(task[key] for key in ROLE_CALLS if key in task)
        role = call["name"].removeprefix("wpzo.hosting.")
        entry_point = call.get("tasks_from")
        assert role in TIERS, "%s: %r calls role %s" % (name, task["name"], call["name"])
        assert entry_point in ("sites", "final"), "%s: %r calls %s's %s" % (name, task["name"], role, entry_point)
        specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        assert entry_point in specs, "%s's %s entry point has no argument spec" % (role, entry_point)
        called.add(role)
    assert called == set(TIERS)


@pytest.mark.parametrize("module", TIER_MODULES)
def test_the_sites_role_never_calls_a_tiers_module(module):
    assert [
        "%s: %s" % (path.name, task.get("name")) for path in SITES_TASKS for task in tasks(path) if module in task
    ] == []
