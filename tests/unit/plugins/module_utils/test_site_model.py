import pytest
from ansible_collections.wpzo.hosting.plugins.filter import site_model as site_filters
from ansible_collections.wpzo.hosting.plugins.module_utils import site_model, site_resources

WP = {"wordpress": {"admin_email": "ops@example.com"}}


def site(domain, **extra):
    return dict({"domain": domain}, **dict(WP, **extra))


def problems(sites, defaults=None):
    with pytest.raises(site_model.SiteModelError) as raised:
        site_model.normalise_sites(sites, defaults)
    return raised.value.errors


def test_a_wordpress_site_gets_every_derived_name_and_path():
    (normalised,) = site_model.normalise_sites([site("Example.com", aliases=["www.example.com"], tls="selfsigned")])
    assert normalised["domain"] == "example.com"
    assert normalised["server_names"] == ["example.com", "www.example.com"]
    assert normalised["system_user"] == "example_com"
    assert normalised["php_socket"] == "/run/php/example_com.sock"
    assert normalised["database"] == "wp_example_com"
    assert normalised["docroot"] == "/srv/www/example.com/public"
    assert normalised["url"] == "https://example.com"
    assert normalised["tls"]["certificate"] == "/etc/ssl/wpzo/example.com.crt"
    assert normalised["basic_auth_file"] == ""
    assert normalised["wordpress"]["title"] == "example.com"
    assert normalised["cron"] is True and normalised["page_cache"] is True


def test_internationalised_domain_and_redirected_aliases():
    (normalised,) = site_model.normalise_sites(
        [site("bücher.example", aliases=["büch.example"], redirect_aliases=True)]
    )
    assert normalised["domain"] == "xn--bcher-kva.example"
    assert normalised["server_names"] == ["xn--bcher-kva.example"]
    assert normalised["redirect_names"] == ["xn--bch-hoa.example"]


def test_defaults_merge_key_by_key_under_each_site():
    defaults = {"php": {"memory_limit": "512M"}, "wordpress": {"admin_email": "ops@example.com"}}
    (normalised,) = site_model.normalise_sites([{"domain": "a.example", "php": {"max_children": 9}}], defaults)
    assert normalised["php"]["memory_limit"] == "512M"
    assert normalised["php"]["max_children"] == 9
    assert normalised["php"]["upload_max_filesize"] == "64M"


def test_static_and_redirect_sites_need_no_wordpress_settings():
    sites = site_model.normalise_sites(
        [
            {"domain": "static.example", "kind": "static"},
            {"domain": "old.example", "kind": "redirect", "redirect_to": "https://new.example/"},
        ]
    )
    assert sites[0]["uses_php"] is False and sites[0]["page_cache"] is False
    assert sites[1]["redirect_to"] == "https://new.example"


def test_every_problem_is_reported_at_once_naming_site_and_field():
    errors = problems(
        [
            {"domain": "bad_name", "colour": "blue"},
            {"domain": "a.example", "kind": "redirect", "tls": {"mode": "custom"}},
            site("b.example", aliases=["a.example"], php={"memory_limit": "lots"}),
            site("c.example", wordpress={"admin_email": "x", "table_prefix": "wp-"}),
        ]
    )
    assert "site bad_name (wpzo_sites[0]): colour: unknown key" in errors
    assert any(e.startswith("site bad_name (wpzo_sites[0]): domain:") for e in errors)
    assert any("wpzo_sites[1]): redirect_to:" in e for e in errors)
    assert (
        "site a.example (wpzo_sites[1]): tls.certificate: required when tls.mode is custom (a file on the controller)"
        in errors
    )
    assert "site b.example (wpzo_sites[2]): aliases: a.example is already used by site a.example" in errors
    assert any("wpzo_sites[2]): php.memory_limit:" in e for e in errors)
    assert any("wpzo_sites[3]): wordpress.admin_email:" in e for e in errors)
    assert any("wpzo_sites[3]): wordpress.table_prefix:" in e for e in errors)


def test_unknown_nested_keys_are_reported():
    errors = problems([site("a.example", php={"memroy_limit": "1G"})])
    assert errors == ["site a.example (wpzo_sites[0]): php.memroy_limit: unknown key"]


def test_derived_name_collisions_are_errors():
    errors = problems([site("a-b.example"), site("a.b.example")])
    assert "system_user 'a_b_example' is derived from both a-b.example and a.b.example" in errors


def test_select_one_site_and_unknown_site():
    sites = site_model.normalise_sites([site("a.example"), site("b.example")])
    assert [s["domain"] for s in site_model.select(sites, only="B.example")] == ["b.example"]
    with pytest.raises(site_model.SiteModelError):
        site_model.select(sites, only="c.example")


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1YmJpc2g alice@laptop"


def test_sftp_users_need_a_name_and_real_public_keys():
    sftp = [{"name": "deploy"}, {"name": "Bad Name", "ssh_keys": [KEY]}, {"name": "bob", "ssh_keys": [KEY, "k"]},
            {"name": "bob", "ssh_keys": [KEY]}]  # fmt: skip
    errors = problems([site("a.example", sftp=sftp)])
    label = "site a.example (wpzo_sites[0]): "
    assert errors == [
        label + "sftp[0].ssh_keys: deploy needs a list of at least one key",
        label + "sftp[1].name: who the keys belong to: letters, digits and _ . @ - (at most 64)",
        label + "sftp[2].ssh_keys[1]: not an SSH public key (type, base64, comment)",
        label + "sftp[3].name: bob is listed twice",
    ]


def test_sftp_users_reach_the_accounts_module():
    normalised = site_model.normalise_sites([site("a.example", sftp=[{"name": "alice", "ssh_keys": [KEY]}])])
    (account,) = site_resources.accounts(normalised)
    assert account["sftp_users"] == [{"name": "alice", "ssh_keys": [KEY]}]


def test_an_empty_site_list_is_no_sites():
    assert site_model.normalise_sites(None) == []
    assert site_model.normalise_sites([]) == []


# --- issue 12: IP addresses, sites_defaults, database connection limit ------------------------------------------
@pytest.mark.parametrize("address", ["10.0.0.1", "::1", "[2001:db8::1]"])
def test_an_ip_address_is_refused_as_domain_and_alias(address):
    errors = problems([site(address), site("example.com", aliases=["www.example.com", address])])
    assert any(e.startswith("site %s (wpzo_sites[0]): domain: " % address) and "IP address" in e for e in errors)
    assert any("(wpzo_sites[1]): aliases[1]: " in e and "IP address" in e and "default server" in e for e in errors)


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"state": "absent"}, "sites_defaults.state: only a site itself may set this"),
        ({"purge": True}, "sites_defaults.purge: only a site itself may set this"),
        ({"domain": "example.com"}, "sites_defaults.domain: only a site itself may set this"),
        ({"aliases": ["www.example.com"]}, "sites_defaults.aliases: only a site itself may set this"),
        ({"php": {"memry_limit": "1G"}}, "sites_defaults.php.memry_limit: unknown key"),
        ({"objekt_cache": True}, "sites_defaults.objekt_cache: unknown key"),
        ({"php": {"memory_limit": "lots"}}, "sites_defaults.php.memory_limit: 'lots' is not a size"),
        ({"php": 5}, "sites_defaults.php: must be a dict"),
        ({"kind": "java"}, "sites_defaults.kind: 'java' is not one of"),
        ({"tls": "sometimes"}, "sites_defaults.tls.mode: 'sometimes' is not one of"),
        ({"page_cache": "yes"}, "sites_defaults.page_cache: must be true or false"),
        ({"mariadb": {"max_user_connections": -1}}, "sites_defaults.mariadb.max_user_connections: must be an integer"),
        ({"wordpress": {"admin_email": "nobody"}}, "sites_defaults.wordpress.admin_email: 'nobody' is not an e-mail"),
        ([], "sites_defaults: must be a dict"),
    ],
)
def test_sites_defaults_is_validated_naming_the_field(defaults, message):
    errors = problems([site("a.example.com"), site("b.example.com")], defaults)
    assert any(error.startswith(message) for error in errors), errors
    # Reported once, not under every site.
    assert all(error.startswith("sites_defaults") for error in errors)


def test_state_absent_in_sites_defaults_removes_nothing():
    with pytest.raises(site_model.SiteModelError):
        site_model.normalise_sites([site("a.example.com")], {"state": "absent", "purge": True})


def test_valid_sites_defaults_still_apply():
    defaults = {"tls": "selfsigned", "php": {"memory_limit": "512M"}, "mariadb": {"max_user_connections": 10}}
    (one, two) = site_model.normalise_sites(
        [site("a.example.com"), site("b.example.com", mariadb={"max_user_connections": 50})], defaults
    )
    assert one["tls"]["mode"] == "selfsigned" and one["php"]["memory_limit"] == "512M"
    assert one["mariadb"]["max_user_connections"] == 10
    assert two["mariadb"]["max_user_connections"] == 50


def test_max_user_connections_defaults_to_30_and_is_checked():
    (normalised,) = site_model.normalise_sites([site("a.example.com")])
    assert normalised["mariadb"] == {"max_user_connections": 30}
    errors = problems([site("a.example.com", mariadb={"max_user_connections": "many"})])
    assert any("mariadb.max_user_connections: must be an integer" in error for error in errors)
    errors = problems([site("b.example.com", mariadb=3)])
    assert any("(wpzo_sites[0]): mariadb: must be a dict" in error for error in errors)


def test_the_long_domain_of_the_report_normalises_with_valid_names():
    (normalised,) = site_model.normalise_sites(
        [site("a-very-long-subdomain-name-for-testing-limits.customer-department.example")]
    )
    assert len(normalised["database"]) + normalised["database"].count("_") <= 64


def test_the_filter_names_sites_defaults_when_it_is_the_problem():
    with pytest.raises(
        Exception, match=r"sites_defaults is invalid \(1 problems\):\n- sites_defaults.state: only a site"
    ):
        site_filters.normalise_sites([{"domain": "a.example", "kind": "static"}], {"state": "absent"})


def test_a_derived_name_a_consumer_would_refuse_is_a_validation_error(monkeypatch):
    from ansible_collections.wpzo.hosting.plugins.module_utils import site_names

    real = site_names.derive
    monkeypatch.setattr(site_names, "derive", lambda domain: dict(real(domain), database="wp_" + "a_" * 31))
    errors = problems([site("a.example.com")])
    assert any("(wpzo_sites[0]): derived name database: " in error and "escaped in GRANT" in error for error in errors)


@pytest.mark.parametrize(
    ("redirect_to", "accepted"),
    [
        ("https://new.example", True),
        ("http://new.example:8080/landing/", True),
        ("https://new.example/a b", False),  # nginx writes it unquoted: a space would end the directive
        ("https://new.example/?x=$host", False),
        ("ftp://new.example", False),
    ],
)
def test_a_redirect_target_is_an_http_url_base_of_plain_characters(redirect_to, accepted):
    sites = [{"domain": "old.example", "kind": "redirect", "redirect_to": redirect_to}]
    if accepted:
        assert site_model.normalise_sites(sites)[0]["redirect_to"] == redirect_to.rstrip("/")
    else:
        assert [e for e in problems(sites) if "redirect_to: a redirect site needs a target URL" in e]
