# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wordpress_validation: every problem of every site at once, each naming the site and the field."""

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_validation as validation
from wordpress_fakes import (
    valid_site,
)


def _errors(**kwargs):
    base = {
        "domain": "example.com",
        "path": "/srv/www/example.com/public",
        "owner": "example_com",
        "version": "6.1.1",
        "core_checksum": "sha1:" + "a" * 40,
        "db_name": "db",
        "db_user": "u",
        "db_password": "p",
        "admin_user": "admin",
        "admin_email": "a@example.com",
        "admin_password": "pw",
    }
    base.update(kwargs)
    return validation.validate_sites([base])[1]


def test_valid_site_has_no_errors_and_derived_defaults():
    site = valid_site()
    assert site["group"] == "example_com"
    assert site["url"] == "https://example.com" and site["tls"] is True
    assert site["title"] == "example.com"
    assert site["core_url"] == "https://wordpress.org/wordpress-6.1.1.tar.gz"
    assert site["purge_request_file"] == "/srv/www/example.com/tmp/.wpzo-purge-request"


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"table_prefix": "wp-"}, "table_prefix: 'wp-' must be letters, digits and _ only, at most 20"),
        ({"table_prefix": "wp_'; DROP"}, "table_prefix:"),
        ({"core_checksum": None}, "core_checksum: required when the core archive is downloaded"),
        ({"core_checksum": "md5:abc"}, "core_checksum: 'md5:abc' must be sha1:"),
        ({"core_checksum": "sha256:" + "a" * 40}, "core_checksum:"),
        ({"core_url": "ftp://x/y.tgz"}, "core_url: 'ftp://x/y.tgz' is not an http(s) URL"),
        ({"version": "latest"}, "version: 'latest' is not a WordPress version"),
        ({"version": None}, "version: required"),
        ({"owner": "root"}, "owner: 'root' must be the site's system user"),
        ({"path": "relative/public"}, "path: 'relative/public' must be an absolute"),
        ({"path": "/srv/www/x/../y"}, "path:"),
        ({"domain": "not_a domain"}, "domain:"),
        ({"db_password": None}, "db_password: required"),
        ({"db_password": "a\nb"}, "db_password: must not contain control characters"),
        ({"admin_password": " pw"}, "admin_password: must not start or end with white space"),
        ({"admin_email": "nobody"}, "admin_email: 'nobody' is not an e-mail address"),
        ({"admin_user": "bad/user"}, "admin_user:"),
        ({"locale": "english"}, "locale: 'english'"),
        ({"auto_update_core": "sometimes"}, "auto_update_core: 'sometimes' is not one of"),
        ({"url": "https://example.com/it's"}, "url:"),
        ({"extra_constants": {"DB_PASSWORD": "x"}}, "extra_constants.DB_PASSWORD: set by the module itself"),
        ({"extra_constants": {"bad name": 1}}, "extra_constants: 'bad name' is not a PHP constant name"),
        ({"extra_constants": {"X": "a\nb"}}, "extra_constants.X: must not contain control characters"),
        ({"extra_constants": {"X": float("inf")}}, "extra_constants.X: inf is not a finite number"),
        ({"redis": {"username": "u"}}, "redis.password: required with redis.username"),
        ({"redis": {"host": "h", "path": "/run/r.sock"}}, "redis: give either path"),
        ({"redis": {"database": 16}}, "redis.database: 16 must be an integer from 0 to 15"),
        ({"plugins": [{"name": "akismet", "url": "https://x/a.zip"}]}, "plugins[0].checksum: required with url"),
        ({"plugins": [{"name": "../evil", "src": "/tmp/a.zip"}]}, "plugins[0].name:"),
        (
            {
                "themes": [
                    {"name": "a", "src": "/a.zip", "activate": True},
                    {"name": "b", "src": "/b.zip", "activate": True},
                ]
            },
            "themes: only one theme can be activated",
        ),
        ({"purge_request_file": "tmp/x"}, "purge_request_file:"),
    ],
)
def test_validation_errors_name_site_and_field(kwargs, expected):
    errors = _errors(**kwargs)
    assert errors, kwargs
    label = "site '%s' (sites[0]): " % kwargs.get("domain", "example.com")
    assert any(error.startswith(label) and expected in error for error in errors), errors


def test_core_src_makes_checksum_optional_and_wins_over_url():
    assert _errors(core_checksum=None, core_src="/srv/archives/wordpress.tar.gz") == []
    site = valid_site(core_src="/srv/archives/wordpress.tar.gz", core_url="https://x/y.tar.gz")
    assert site["core_src"] == "/srv/archives/wordpress.tar.gz"


def test_boolean_auto_update_values_are_accepted():
    assert valid_site(auto_update_core=False)["auto_update_core"] == "false"
    assert valid_site(auto_update_core="none")["auto_update_core"] == "false"
    assert valid_site(auto_update_core=True)["auto_update_core"] == "major"


def test_duplicate_domains_and_paths_are_reported():
    site = {
        "domain": "example.com",
        "path": "/srv/www/example.com/public",
        "owner": "u",
        "version": "6.1.1",
        "core_src": "/a.tar.gz",
        "db_name": "d",
        "db_user": "u",
        "db_password": "p",
        "admin_user": "a",
        "admin_email": "a@example.com",
        "admin_password": "p",
    }
    errors = validation.validate_sites([site, dict(site)])[1]
    assert "site 'example.com' (sites[1]): domain: example.com is already used by sites[0]" in errors
    assert any("sites[1]): path: /srv/www/example.com/public is already used" in e for e in errors)


def test_every_problem_of_every_site_is_reported_at_once():
    errors = validation.validate_sites([{"domain": "a.example"}, {"domain": "b.example", "table_prefix": "-"}])[1]
    assert any(e.startswith("site 'a.example' (sites[0]): path: required") for e in errors)
    assert any(e.startswith("site 'b.example' (sites[1]): table_prefix:") for e in errors)
    assert any(e.startswith("site 'b.example' (sites[1]): admin_password: required") for e in errors)
