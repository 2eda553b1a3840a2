# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/tls_certificates.py and the certificate_pair_problems filter."""

import pytest
from ansible_collections.wpzo.hosting.plugins.filter.tls import certificate_pair_problems
from ansible_collections.wpzo.hosting.plugins.module_utils import tls_certificates as tls
from certificates import NOW, make_pair


def test_a_matching_pair_valid_for_every_name_has_no_problem():
    cert, key = make_pair(["example.com", "www.example.com"])
    assert tls.pair_problems(cert, key, ["example.com", "www.example.com"], now=NOW) == []


def test_a_wildcard_covers_one_label_only():
    cert, key = make_pair(["example.com", "*.example.com"])
    assert tls.pair_problems(cert, key, ["example.com", "shop.example.com"], now=NOW) == []
    problems = tls.pair_problems(cert, key, ["a.b.example.com", "example.org"], now=NOW)
    assert problems == [
        "tls.certificate: is not valid for a.b.example.com, example.org (its names: *.example.com, example.com)"
    ]


def test_a_key_of_another_certificate_is_refused():
    cert, _key = make_pair(["example.com"])
    _other_cert, other_key = make_pair(["example.com"])
    assert tls.pair_problems(cert, other_key, ["example.com"], now=NOW) == [
        "tls.certificate_key: does not belong to tls.certificate (their public keys differ)"
    ]


def test_an_expiring_certificate_and_unreadable_files_are_refused():
    cert, key = make_pair(["example.com"], days=0)
    assert tls.pair_problems(cert, key, ["example.com"], now=NOW)[0].startswith("tls.certificate: expires 2026-12-01")
    assert tls.pair_problems("not a certificate", key, ["example.com"], now=NOW)[0].startswith(
        "tls.certificate: is not a PEM certificate"
    )
    good, _good_key = make_pair(["example.com"])
    assert tls.pair_problems(good, "-----BEGIN PRIVATE KEY-----\nAAAA\n", ["example.com"], now=NOW)[0].startswith(
        "tls.certificate_key: is not an unencrypted PEM private key"
    )


def test_the_filter_names_the_site_and_never_the_key():
    cert, key = make_pair(["example.com"])
    _other, other_key = make_pair(["example.com"])
    problems = certificate_pair_problems(
        [
            {"domain": "example.com", "names": ["example.com"], "certificate": cert, "certificate_key": key},
            {"domain": "shop.test", "names": ["shop.test"], "certificate": cert, "certificate_key": other_key},
        ]
    )
    assert len(problems) == 2
    assert all(problem.startswith("shop.test: tls.") for problem in problems)
    assert not any("PRIVATE KEY" in problem or other_key[40:80] in problem for problem in problems)


@pytest.mark.parametrize(
    ("wanted", "found", "expected"),
    [
        ({"a.test": ["a.test"]}, {"a.test": ["a.test"]}, []),
        ({"a.test": ["www.a.test", "a.test", "a.test"]}, {"a.test": ["a.test", "www.a.test"]}, []),
        ({"a.test": ["a.test", "new.a.test"]}, {"a.test": ["a.test"]}, ["a.test"]),  # alias added
        ({"a.test": ["a.test"]}, {"a.test": ["a.test", "old.a.test"]}, ["a.test"]),  # alias removed
        ({"a.test": ["a.test"], "b.test": ["b.test"]}, {"a.test": None, "b.test": ["b.test"]}, ["a.test"]),
    ],
)
def test_stale_certificates(wanted, found, expected):
    assert tls.stale(wanted, found) == expected


def test_dns_names_of_a_certificate_without_san():
    cert, _key = make_pair([])
    assert tls.dns_names(tls.load_certificate(cert)) == []
