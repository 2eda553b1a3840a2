import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import site_names


def test_derives_every_name_from_the_domain():
    names = site_names.derive("example.com")
    assert names["system_user"] == "example_com"
    assert names["pool"] == "example_com"
    assert names["php_socket"] == "/run/php/example_com.sock"
    assert names["database"] == "wp_example_com"
    assert names["database_user"] == "wp_example_com"
    assert names["redis_user"] == "example_com"
    assert names["redis_prefix"] == "example_com:"
    assert names["docroot"] == "/srv/www/example.com/public"


def test_internationalised_names_become_punycode():
    assert site_names.normalise_domain("Bücher.Example.") == "xn--bcher-kva.example"


@pytest.mark.parametrize("bad", ["", "localhost", "-bad.com", "bad-.com", "exa mple.com", "a" * 64 + ".com", 7])
def test_rejects_invalid_host_names(bad):
    with pytest.raises(ValueError):
        site_names.normalise_domain(bad)


def test_long_domains_are_cut_within_limits_and_stay_unique():
    one = site_names.derive("a-very-long-subdomain-name-for-testing.example.com")
    two = site_names.derive("a-very-long-subdomain-name-for-testing.example.org")
    assert len(one["system_user"]) <= site_names.SYSTEM_USER_MAX
    assert one["system_user"] != two["system_user"]
    assert site_names.derive("x" * 60 + ".example.com")["database"].__len__() <= site_names.DATABASE_MAX


def test_names_start_with_a_letter():
    assert site_names.derive("1and1.com")["system_user"] == "s_1and1_com"


def test_collisions_are_reported_naming_both_sites():
    problems = site_names.collisions([site_names.derive("a-b.com"), site_names.derive("a.b.com")])
    assert "system_user 'a_b_com' is derived from both a-b.com and a.b.com" in problems
    assert site_names.collisions([site_names.derive("a.com"), site_names.derive("b.com")]) == []
