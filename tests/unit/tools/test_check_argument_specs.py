import importlib.util
from pathlib import Path

import yaml

spec = importlib.util.spec_from_file_location(
    "check_argument_specs", Path(__file__).parents[3] / "tools" / "check_argument_specs.py"
)
check_argument_specs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_argument_specs)


def make_role(tmp_path, defaults, options):
    role = tmp_path / "demo"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks").mkdir()
    (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    (role / "meta" / "argument_specs.yml").write_text(
        yaml.safe_dump({"argument_specs": {"main": {"options": options}}})
    )
    return role


def test_matching_role_has_no_problems(tmp_path):
    role = make_role(tmp_path, {"demo_port": 22}, {"demo_port": {"type": "int", "default": 22}})
    assert check_argument_specs.check_role(role) == []


def test_reports_undocumented_default_differing_value_and_missing_default(tmp_path):
    role = make_role(
        tmp_path,
        {"demo_port": 22, "demo_hidden": 1},
        {"demo_port": {"type": "int", "default": 2222}, "demo_name": {"type": "str"}},
    )
    errors = check_argument_specs.check_role(role)
    assert "demo: demo_hidden has a default but is not in argument_specs" in errors
    assert any("demo_port default differs" in e for e in errors)
    assert "demo: demo_name is documented but has no default in defaults/main.yml" in errors


def test_reports_variable_without_role_prefix(tmp_path):
    role = make_role(tmp_path, {"port": 22}, {"port": {"type": "int", "default": 22}})
    assert check_argument_specs.check_role(role) == ["demo: port does not start with the role prefix demo_"]


def test_every_role_of_the_collection_passes():
    roles = Path(__file__).parents[3] / "roles"
    assert check_argument_specs.main(str(roles)) == 0


def test_reports_an_entry_point_whose_default_is_not_the_roles(tmp_path):
    role = make_role(tmp_path, {"demo_port": 22}, {"demo_port": {"type": "int", "default": 22}})
    (role / "meta" / "argument_specs.yml").write_text(
        yaml.safe_dump(
            {
                "argument_specs": {
                    "main": {"options": {"demo_port": {"type": "int", "default": 22}}},
                    "sites": {
                        "options": {
                            "demo_port": {"type": "int", "default": 2222},
                            "demo_list": {"type": "list", "default": []},
                            "demo_input": {"type": "list", "required": True},
                        }
                    },
                }
            }
        )
    )
    assert check_argument_specs.check_role(role) == [
        "demo: demo_list of entry point sites has no default in defaults/main.yml",
        "demo: demo_port default differs in entry point sites",
    ]
