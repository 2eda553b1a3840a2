"""value_syntax's url_host, also the url_host filter the roles write listen addresses and scrape targets with."""

import pytest
from ansible_collections.wpzo.hosting.plugins.filter.network import FilterModule
from ansible_collections.wpzo.hosting.plugins.module_utils.value_syntax import url_host


@pytest.mark.parametrize(
    "address, written",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "[::1]"),
        ("2001:db8::10", "[2001:db8::10]"),
        ("server1.example.net", "server1.example.net"),
    ],
)
def test_an_ipv6_address_is_bracketed_and_anything_else_kept(address, written):
    assert url_host(address) == written
    assert FilterModule().filters()["url_host"](address) == written
