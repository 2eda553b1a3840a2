"""Every module's documentation renders through ansible-doc, with the collection's doc fragments, and promises
check and diff mode. ansible-test sanity (validate-modules) checks each argument spec against it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

MODULES = sorted(p.stem for p in (Path(__file__).parents[4] / "plugins" / "modules").glob("*.py"))


@pytest.fixture(scope="module")
def docs():
    ansible_doc = Path(sys.executable).parent / "ansible-doc"
    names = ["wpzo.hosting." + name for name in MODULES]
    output = subprocess.run(
        [str(ansible_doc), "-t", "module", "--json", *names], capture_output=True, text=True, check=True
    )
    return json.loads(output.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_renders_with_check_and_diff_mode(docs, name):
    entry = docs["wpzo.hosting." + name]
    doc = entry["doc"]
    assert doc["short_description"] and doc["description"] and doc["version_added"]
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] == "full"
    assert isinstance(yaml.safe_load(entry["examples"]), list)
    assert entry["return"]
