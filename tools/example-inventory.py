"""Print a role's variables for inventories/example/group_vars/all/<role>.yml: every default, commented,
under its description from meta/argument_specs.yml.

    python3 tools/example-inventory.py roles/redis > inventories/example/group_vars/all/redis.yml
"""

import sys
import textwrap
from pathlib import Path

import yaml


def render(role: Path) -> str:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    lines = [
        "---",
        f"# wpzo.hosting.{role.name}: {spec['short_description']}.",
        f"# Every variable with its default; uncomment to change. Details: docs/roles/{role.name}.md.",
    ]
    for name, value in defaults.items():
        description = spec["options"].get(name, {}).get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        lines.append("")
        lines += ["# " + line for line in textwrap.wrap(description, 110)]
        dumped = yaml.safe_dump({name: value}, default_flow_style=False, width=110, sort_keys=False).rstrip()
        lines += ["# " + line for line in dumped.splitlines()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(Path(sys.argv[1])))
