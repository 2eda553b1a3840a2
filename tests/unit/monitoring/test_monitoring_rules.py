"""The alert rules of monitoring_server, rendered with the role's defaults, under `promtool test rules`.

promtool is Debian's `prometheus` package (tools/host-packages.sh installs it on the development machine).
"""

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).parents[3] / "roles" / "monitoring_server"
TESTS = Path(__file__).with_name("monitoring_rules_test.yml")
PROMTOOL = shutil.which("promtool")


def render_rules(**overrides):
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    # YAML, not HTML: nothing to escape.
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701
    template = environment.from_string((ROLE / "templates" / "rules.yml.j2").read_text())
    return template.render(ansible_managed="managed", **{**defaults, **overrides})


@pytest.fixture(scope="module")
def promtool():
    if not PROMTOOL:
        pytest.fail("promtool is missing: run tools/host-packages.sh (Debian's prometheus package)")
    return PROMTOOL


def test_every_rule_passes_its_unit_tests(promtool, tmp_path):
    (tmp_path / "wpzo.yml").write_text(render_rules())
    shutil.copy(TESTS, tmp_path / TESTS.name)
    result = subprocess.run(
        [promtool, "test", "rules", TESTS.name], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_test():
    alerts = {rule["alert"] for group in yaml.safe_load(render_rules())["groups"] for rule in group["rules"]}
    tests = yaml.safe_load(TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert alerts == tested


def test_thresholds_come_from_the_variables(promtool, tmp_path):
    rules = tmp_path / "wpzo.yml"
    rules.write_text(render_rules(monitoring_server_site_down_for="7m", monitoring_server_certificate_warning_days=30))
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    by_name = {rule["alert"]: rule for group in yaml.safe_load(rules.read_text())["groups"] for rule in group["rules"]}
    assert by_name["SiteDown"]["for"] == "7m"
    assert "< 30" in by_name["CertificateExpiring"]["expr"]
