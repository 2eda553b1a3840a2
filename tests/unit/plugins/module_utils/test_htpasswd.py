# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""htpasswd lines: SHA-512 crypt, random salts, existing hashes kept while they verify (issue 12)."""

import pytest
from ansible_collections.wpzo.hosting.plugins.filter import site_model as site_filters
from ansible_collections.wpzo.hosting.plugins.module_utils import htpasswd

USERS = [{"name": "staging", "password": "correct horse"}, {"name": "client", "password": "p:ä$s"}]


def test_sha512_crypt_matches_the_specification_vectors():
    # Drepper, "Unix crypt using SHA-256 and SHA-512", test vectors 1 and 2.
    assert htpasswd.sha512_crypt("Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
    )
    assert htpasswd.sha512_crypt("Hello world!", "saltstringsaltstring", 10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/"
        "y3RnOaw5v."
    )


def test_salts_are_random_not_derived_from_public_names():
    first = htpasswd.lines(USERS)
    second = htpasswd.lines(USERS)
    assert first != second  # same site, same users, same passwords: different salts
    salts = {line.split("$")[2] for line in first + second}
    assert len(salts) == 4 and all(len(salt) == 16 for salt in salts)
    for salt in salts:
        assert "staging" not in salt and "client" not in salt


def test_an_existing_hash_is_kept_while_its_password_verifies():
    current = "# marker: basic-auth users of example.com\n" + "\n".join(htpasswd.lines(USERS)) + "\n"
    again = htpasswd.lines(USERS, current)
    assert again == [line for line in current.splitlines() if not line.startswith("#")]


def test_a_changed_password_gets_a_new_hash_and_the_others_stay():
    before = htpasswd.lines(USERS)
    changed = [USERS[0], {"name": "client", "password": "new password"}]
    after = htpasswd.lines(changed, "\n".join(before))
    assert after[0] == before[0]
    assert after[1] != before[1] and htpasswd.verify("new password", after[1].split(":", 1)[1])
    assert not htpasswd.verify("p:ä$s", after[1].split(":", 1)[1])


@pytest.mark.parametrize(
    "hashed",
    [
        "",
        "plain",
        "{PLAIN}correct horse",
        "$1$abc$def",  # MD5 crypt: replaced by SHA-512
        "$6$salt$" + "x" * 86,
    ],
)
def test_foreign_or_broken_hashes_never_verify(hashed):
    assert htpasswd.verify("correct horse", hashed) is False
    (line,) = htpasswd.lines([USERS[0]], "staging:%s\n" % hashed)
    assert line.startswith("staging:$6$") and htpasswd.verify("correct horse", line.split(":", 1)[1])


def test_the_filter_gives_the_files_and_names_a_missing_password():
    site = {
        "domain": "staging.example",
        "state": "present",
        "basic_auth_file": "/etc/nginx/wpzo-htpasswd/staging.example",
        "basic_auth": {"enabled": True, "users": USERS},
    }
    found = site_filters.site_resources_for([site], "basic_auth", current={})  # the sites role gives no group
    (entry,) = found["files"]
    assert [line.split(":", 1)[0] for line in entry["content"].splitlines()[1:]] == ["staging", "client"]
    assert (entry["group"], entry["mode"], entry["secret"]) == ("www-data", "0640", True)
    assert found["purge"] == ["/etc/nginx/wpzo-htpasswd/*"]
    site["basic_auth"]["users"] = [{"name": "x"}]
    with pytest.raises(Exception, match=r"site_resources\(basic_auth\): basic_auth user x: a password is required"):
        site_filters.site_resources_for([site], "basic_auth", current={}, group="www-data")


def test_the_sites_role_no_longer_derives_salts_from_names():
    import pathlib

    access = (pathlib.Path(__file__).resolve().parents[4] / "roles/sites/tasks/access.yml").read_text()
    assert "password_hash(" not in access and "hash('sha256')" not in access
    assert "site_resources('basic_auth'" in access
