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


# --- every derived name is valid for every consumer (issue 12) ------------------------------------------------
import hashlib  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import string  # noqa: E402

LABEL_CHARS = string.ascii_lowercase + string.digits + "-"


def _label(rng, length):
    if length == 1:
        return rng.choice(string.ascii_lowercase + string.digits)
    middle = "".join(rng.choice(LABEL_CHARS) for _position in range(length - 2))
    return rng.choice(string.ascii_lowercase + string.digits) + middle + rng.choice(string.ascii_lowercase)


def _domain(rng, total):
    """A syntactically valid host name of exactly ``total`` characters (3..253), labels of 1..63."""
    lengths, left = [], total
    while left > 63 or not lengths:
        length = rng.randint(1, min(63, left - 2))
        lengths.append(length)
        left -= length + 1
    lengths.append(left)
    return ".".join(_label(rng, length) for length in lengths)


def generated_domains():
    rng = random.Random(12)  # noqa: S311 - deterministic: a failure names its domain and is reproducible
    domains = [
        "a-very-long-subdomain-name-for-testing-limits.customer-department.example",  # the report of issue 12
        "a." * 122 + "io",  # the most underscores a domain can give
        ("a" * 63 + ".") * 3 + "b" * 61,  # 253 characters, long labels
        "1" * 63 + ".example.com",
    ]
    for total in list(range(3, 254)) + [rng.randint(40, 253) for _sample in range(1500)]:
        domains.append(_domain(rng, total))
    # Many short labels: the escaped database name grows twice as fast as the name.
    domains += [
        ".".join(_label(rng, rng.randint(1, 3)) for _label_number in range(rng.randint(2, 60))) + ".com"
        for _sample in range(400)
    ]
    return domains


def test_every_derived_name_is_valid_for_every_consumer():
    accepted = 0
    for raw in generated_domains():
        assert len(raw) <= 253 or raw.startswith("a.")
        try:
            domain = site_names.normalise_domain(raw)
        except ValueError as exc:
            # Only what some consumer could not take is refused: a file name too long (<domain>.conf.new)
            # or a name that reads as an address.
            assert len(raw) > site_names.DOMAIN_MAX or raw.rsplit(".", 1)[-1].isdigit(), (raw, exc)
            continue
        accepted += 1
        names = site_names.derive(domain)
        assert site_names.problems(names) == [], raw
        # The consumers' rules, spelled out once more independently of site_names.problems:
        assert len(names["system_user"]) <= 32 and re.match(r"^[a-z][-a-z0-9_]*$", names["system_user"])
        assert names["pool"] == names["system_group"] == names["system_user"]
        assert len(names["database"]) <= 64 and re.match(r"^[a-z][a-z0-9_]*$", names["database"])
        escaped = names["database"].replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        assert len(escaped) <= 64, (raw, escaped)  # GRANT ALL ON `<escaped>`.* (MariaDB: Incorrect database name)
        assert len(names["database_user"]) <= 80 and re.match(r"^[a-z][a-z0-9_]*$", names["database_user"])
        assert re.match(r"^[\x21-\x7e]+$", names["redis_user"]) and names["redis_prefix"] == names["redis_user"] + ":"
        assert len("~" + names["redis_prefix"] + "*") <= 513
        assert len(names["php_socket"].encode()) < 108  # sun_path with its NUL
        assert len("wpzo-wp-cron-%s.service" % names["system_user"]) <= 255
        for suffix in (".conf", ".crt", ".key", ".conf.new"):
            assert len(domain + suffix) <= 255  # nginx vhost, certificates, certbot's renewal file
    assert accepted > 1500


def test_the_domain_of_the_report_gets_a_database_that_grant_accepts():
    names = site_names.derive("a-very-long-subdomain-name-for-testing-limits.customer-department.example")
    assert site_names.escaped_length(names["database"]) <= 64
    assert names["database"].startswith("wp_a_very_long_subdomain_name")


def _old_fit(name, limit, domain):
    """The cut before issue 12, as servers have it."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(domain.encode("ascii")).hexdigest()[:8]
    return name[: limit - len(digest) - 1].rstrip("_") + "_" + digest


def test_names_that_worked_before_are_unchanged():
    for raw in generated_domains():
        try:
            domain = site_names.normalise_domain(raw)
        except ValueError:
            continue
        base = site_names.slug(domain)
        names = site_names.derive(domain)
        assert names["system_user"] == _old_fit(base, 32, domain)
        assert names["database_user"] == _old_fit("wp_" + base, 80, domain)
        assert names["redis_user"] == base
        old_database = _old_fit("wp_" + base, 64, domain)
        if site_names.escaped_length(old_database) <= 64:  # the ones GRANT accepted
            assert names["database"] == old_database


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.20.", "::1", "[::1]", "2001:db8::1", "fe80::1%eth0"])
def test_ip_addresses_are_refused(address):
    with pytest.raises(ValueError, match="IP address"):
        site_names.normalise_domain(address)


@pytest.mark.parametrize("numeric", ["10.1", "1.2.3", "example.123"])
def test_numeric_top_level_labels_are_refused(numeric):
    with pytest.raises(ValueError, match="numeric label"):
        site_names.normalise_domain(numeric)


def test_domains_too_long_for_their_file_names_are_refused():
    longest = ("a" * 63 + ".") * 3 + "b" * (site_names.DOMAIN_MAX - 192)
    assert len(longest) == site_names.DOMAIN_MAX
    assert site_names.normalise_domain(longest) == longest
    with pytest.raises(ValueError, match="file names"):
        site_names.normalise_domain(longest + "b")


def test_nginx_has_room_for_the_longest_server_name():
    """nginx -t fails ("could not build server_names_hash") when a name does not fit a hash bucket."""
    import pathlib

    template = pathlib.Path(__file__).resolve().parents[4] / "roles/nginx/templates/globals/http-limits.conf.j2"
    (bucket,) = re.findall(r"^server_names_hash_bucket_size ([0-9]+);", template.read_text(), re.M)
    pointer = 8
    # ngx_hash.c: NGX_HASH_ELT_SIZE(name) = sizeof(void *) + ngx_align(len + 2, sizeof(void *)), plus the end marker.
    element = pointer + -(-(site_names.DOMAIN_MAX + 2) // pointer) * pointer
    assert element + pointer <= int(bucket)


def test_credential_keys_are_derived_with_the_names():
    names = site_names.derive("shop.example.org")
    assert names["credentials"] == {
        "database": "mariadb/wp_shop_example_org",
        "redis": "redis/shop_example_org",
        "admin": "wordpress/shop_example_org-admin",
    }


def test_a_tier_roles_site_list_gets_the_names_in_order():
    found = site_names.name_sites([{"domain": "B.example"}, {"domain": "a.example", "state": "absent"}], "redis_sites")
    assert [names["redis_user"] for names in found] == ["b_example", "a_example"]
    assert found[0]["credentials"]["redis"] == "redis/b_example"


def test_a_tier_roles_site_list_is_refused_with_every_problem_naming_the_variable():
    with pytest.raises(ValueError) as raised:
        site_names.name_sites(
            [{"domain": "a-b.example.com"}, {"domain": "a.b.example.com"}, {"domain": "A-B.example.com."},
             {"domain": "localhost"}, "x.example"],
            "redis_sites",
        )  # fmt: skip
    problems = str(raised.value).splitlines()
    assert (
        "redis_sites[2] (A-B.example.com.): domain: a-b.example.com is listed twice (also redis_sites[0])" in problems
    )
    assert any(
        p.startswith("redis_sites[3] (localhost): domain: 'localhost' is not a fully qualified") for p in problems
    )
    assert "redis_sites[4]: must be a dict with a domain" in problems
    assert (
        "redis_sites: redis_user 'a_b_example_com' is derived from both a-b.example.com and a.b.example.com" in problems
    )
    with pytest.raises(ValueError, match="mariadb_sites: must be a list of sites"):
        site_names.name_sites({"domain": "a.example"}, "mariadb_sites")
