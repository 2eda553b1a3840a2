"""The server_layout lookup, and the rule it exists for: the names it holds are written nowhere else in the roles."""

import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleLookupError
from ansible_collections.wpzo.hosting.plugins.lookup.server_layout import LookupModule
from ansible_collections.wpzo.hosting.plugins.module_utils import server_layout, site_model

ROOT = Path(__file__).resolve().parents[4]
ROLES = ROOT / "roles"


def test_the_lookup_returns_the_constants_and_refuses_an_unknown_name():
    lookup = LookupModule()
    assert lookup.run(["web_group", "cache_purge_command", "backup_command"]) == [
        "www-data",
        "/usr/local/sbin/wpzo-nginx-cache-purge",
        "/usr/local/sbin/wpzo-backup",
    ]
    with pytest.raises(AnsibleLookupError, match="unknown name web_server"):
        lookup.run(["web_server"])


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bwww-data\b",
        re.escape(server_layout.CACHE_PURGE_COMMAND),
        re.escape(server_layout.BACKUP_COMMAND) + r"\b",
        re.escape(site_model.CERT_DIR),
        re.escape(site_model.HTPASSWD_DIR),
        r"__(?!wpzo_)\w+_mariadb_can_log_in",
        r"'\[' ~",
    ],
)
def test_no_role_writes_its_own_copy_of_a_shared_fact(pattern):
    """What a role's tasks, vars and templates need of these facts they read from server_layout, the site model
    (certificate and htpasswd paths) or, for whether MariaDB can be asked, the mariadb role's one shared fact; an
    IPv6 address in brackets from the url_host filter; the playbooks too."""
    role_files = [
        path
        for path in sorted(ROLES.glob("*/*/**/*"))
        if path.is_file() and path.parts[len(ROLES.parts) + 1] in ("tasks", "vars", "templates", "handlers", "files")
    ]
    copies = [
        "%s:%d" % (path.relative_to(ROOT), number)
        for path in role_files + sorted((ROOT / "playbooks").glob("*.yml"))
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert copies == []
