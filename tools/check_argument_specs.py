"""Check each role's meta/argument_specs.yml against its defaults/main.yml.

Every default must be documented with the same default value, and every
documented option that is not required must have a default. Options named
wpzo_* are the collection's shared variables (such as wpzo_sites): a role
documents those it reads, without a default of its own. The options of the
other entry points (tasks_from: sites) follow the same rules: one default,
the one in defaults/main.yml.
"""

import sys
from pathlib import Path

import yaml


def check_role(role: Path) -> list[str]:
    defaults_file = role / "defaults" / "main.yml"
    specs_file = role / "meta" / "argument_specs.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    defaults = defaults or {}
    if not specs_file.exists():
        return [f"{role.name}: meta/argument_specs.yml is missing"]
    specs = yaml.safe_load(specs_file.read_text())["argument_specs"]
    options = specs["main"].get("options", {})
    errors = []
    for entry, spec in sorted(specs.items()):
        for name, option in sorted((spec.get("options") or {}).items()):
            if entry == "main" or option.get("required") or name.startswith("wpzo_"):
                continue
            if name not in defaults:
                errors.append(f"{role.name}: {name} of entry point {entry} has no default in defaults/main.yml")
            elif option.get("default") != defaults[name]:
                errors.append(f"{role.name}: {name} default differs in entry point {entry}")
    for name in sorted(set(defaults) - set(options)):
        errors.append(f"{role.name}: {name} has a default but is not in argument_specs")
    for name, spec in sorted(options.items()):
        if name not in defaults:
            if not spec.get("required") and not name.startswith("wpzo_"):
                errors.append(f"{role.name}: {name} is documented but has no default in defaults/main.yml")
            continue
        if "default" not in spec:
            errors.append(f"{role.name}: {name} has no default in argument_specs")
        elif spec["default"] != defaults[name]:
            errors.append(f"{role.name}: {name} default differs: spec {spec['default']!r}, defaults {defaults[name]!r}")
        if not name.startswith(f"{role.name}_"):
            errors.append(f"{role.name}: {name} does not start with the role prefix {role.name}_")
    return errors


def main(roles_dir: str) -> int:
    roles = sorted(p for p in Path(roles_dir).iterdir() if (p / "tasks").is_dir())
    errors = [error for role in roles for error in check_role(role)]
    for error in errors:
        print(error)
    print(f"argument specs: {len(roles)} roles checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
