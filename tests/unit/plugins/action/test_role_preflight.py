"""The distribution check of wpzo.hosting.role_preflight, shared by every role."""

import pytest
from ansible_collections.wpzo.hosting.plugins.action import role_preflight

DEBIAN_12 = {
    "os_family": "Debian",
    "distribution": "Debian",
    "distribution_version": "12.8",
    "distribution_major_version": "12",
}


def test_debian_12_is_taken_without_a_warning():
    assert role_preflight.distribution_problem("nginx", DEBIAN_12) is None
    assert role_preflight.distribution_warning(DEBIAN_12) is None


@pytest.mark.parametrize(
    "facts",
    [
        {**DEBIAN_12, "distribution_version": "13.1", "distribution_major_version": "13"},
        {**DEBIAN_12, "distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24"},
    ],
)
def test_other_debian_family_releases_are_taken_with_a_warning(facts):
    assert role_preflight.distribution_problem("base", facts) is None
    assert role_preflight.distribution_warning(facts) == (
        "wpzo.hosting is tested on Debian 12 only; this host runs %s %s."
        % (facts["distribution"], facts["distribution_major_version"])
    )


def test_other_families_are_refused_naming_the_role_and_the_host():
    facts = {
        "os_family": "RedHat",
        "distribution": "Rocky",
        "distribution_version": "9.4",
        "distribution_major_version": "9",
    }
    assert role_preflight.distribution_problem("mariadb", facts) == (
        "wpzo.hosting.mariadb supports Debian 12 (bookworm); this host runs Rocky 9.4."
    )


def test_a_host_without_facts_is_refused():
    assert "needs the host's facts" in role_preflight.distribution_problem("redis", {})
