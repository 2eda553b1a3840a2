"""The fail2ban filters of roles/fail2ban, run through fail2ban-regex on sample log lines.

Lines are in the nginx role's "wpzo" access log format (combined, then host=, rt=, urt=, cache=).
Skipped where fail2ban-regex is not installed (Debian package fail2ban).
"""

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

FILTERS = Path(__file__).parents[3] / "roles" / "fail2ban" / "templates" / "filter.d"
REGEX = shutil.which("fail2ban-regex")
pytestmark = pytest.mark.skipif(REGEX is None, reason="fail2ban-regex is not installed (apt-get install fail2ban)")

DATE = "[22/Nov/2026:17:01:43 +0000]"
TAIL = '"Mozilla/5.0 (X11; Linux x86_64)" host=shop.example.test rt=0.120 urt=0.118 cache=-'


def access(request, status, address="203.0.113.5", referrer="https://shop.example.test/wp-login.php", tail=TAIL):
    return f'{address} - - {DATE} "{request}" {status} 4519 "{referrer}" {tail}'


@pytest.fixture(scope="module")
def filters(tmp_path_factory):
    """The filter templates rendered as the role writes them."""
    rendered = tmp_path_factory.mktemp("filter.d")
    for template in FILTERS.glob("*.conf.j2"):
        text = jinja2.Template(template.read_text(), keep_trailing_newline=True).render(ansible_managed="test")
        (rendered / template.name.removesuffix(".j2")).write_text(text)
    return rendered


def found(filters, name, lines):
    """The addresses fail2ban-regex finds with a filter in a log of the lines, one run for all."""
    log = filters / f"{name}.log"
    log.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [REGEX, "--out", "ip", str(log), str(filters / f"{name}.conf")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def numbered(lines):
    """Each sample line with an address of its own (198.51.100.<n>), so one run tells which matched."""
    return {f"198.51.100.{n}": line.replace("203.0.113.5", f"198.51.100.{n}", 1) for n, line in enumerate(lines, 1)}


WORDPRESS_FAILED = [
    access("POST /wp-login.php HTTP/1.1", 200),
    access("POST /wp-login.php HTTP/2.0", 200),
    access("POST /wp-login.php?redirect_to=https%3A%2F%2Fshop.example.test%2Fwp-admin%2F&reauth=1 HTTP/1.1", 200),
    access("POST /blog/wp-login.php HTTP/1.1", 200),
    # combined format without the wpzo fields
    access("POST /wp-login.php HTTP/1.1", 200, tail='"curl/7.88.1"'),
]
WORDPRESS_NOT_FAILED = [
    # a successful login is a redirect to wp-admin
    access("POST /wp-login.php HTTP/1.1", 302),
    access("POST /wp-login.php?redirect_to=%2Fwp-admin%2F HTTP/2.0", 302),
    # showing the form
    access("GET /wp-login.php HTTP/1.1", 200),
    # the password form of a protected post, and a logout, redirect as well
    access("POST /wp-login.php?action=postpass HTTP/1.1", 302),
    access("GET /wp-login.php?action=logout&_wpnonce=0123456789 HTTP/1.1", 302),
    # rate-limited by nginx: nginx-limit-req counts those
    access("POST /wp-login.php HTTP/1.1", 429),
    # other files, other methods
    access("POST /xmlrpc.php HTTP/1.1", 200),
    access("POST /wp-login.php.bak HTTP/1.1", 200),
    access("POST /not-wp-login.php HTTP/1.1", 200),
    access("POST /wp-admin/admin-ajax.php HTTP/1.1", 200),
    # a request line smuggled into the referrer or the user agent (nginx escapes their quotes)
    access("GET / HTTP/1.1", 200, referrer="\\x22POST /wp-login.php HTTP/1.1\\x22 200 0"),
    access("GET / HTTP/1.1", 200, tail='"x\\x22 \\x22POST /wp-login.php HTTP/1.1\\x22 200 1"'),
]


WORDPRESS = numbered(WORDPRESS_FAILED + WORDPRESS_NOT_FAILED)


@pytest.fixture(scope="module")
def wordpress(filters):
    ipv6 = access("POST /wp-login.php HTTP/1.1", 200, address="2001:db8::5")
    return found(filters, "wpzo-wordpress", [*WORDPRESS.values(), ipv6])


@pytest.mark.parametrize("address", list(WORDPRESS)[: len(WORDPRESS_FAILED)])
def test_wordpress_matches_failed_logins(wordpress, address):
    assert address in wordpress, WORDPRESS[address]


@pytest.mark.parametrize("address", list(WORDPRESS)[len(WORDPRESS_FAILED) :])
def test_wordpress_ignores_everything_else(wordpress, address):
    assert address not in wordpress, WORDPRESS[address]


def test_wordpress_finds_ipv6_clients(wordpress):
    assert "2001:db8::5" in wordpress


XMLRPC_ABUSE = [
    access("POST /xmlrpc.php HTTP/1.1", 200),
    access("POST /xmlrpc.php HTTP/2.0", 200),
    access("POST /xmlrpc.php HTTP/1.1", 429),
    access("POST /xmlrpc.php HTTP/1.1", 403),
    access("POST /blog/xmlrpc.php?rsd HTTP/1.1", 200),
]
XMLRPC_NOT_ABUSE = [
    access("GET /xmlrpc.php HTTP/1.1", 405),
    access("GET /xmlrpc.php?rsd HTTP/1.1", 200),
    access("POST /wp-login.php HTTP/1.1", 200),
    access("POST /wp-json/wp/v2/posts HTTP/1.1", 201),
    access("POST /xmlrpc.php.bak HTTP/1.1", 404),
    access("GET / HTTP/1.1", 200, tail='"x\\x22 \\x22POST /xmlrpc.php HTTP/1.1\\x22 200 1"'),
]


XMLRPC = numbered(XMLRPC_ABUSE + XMLRPC_NOT_ABUSE)


@pytest.fixture(scope="module")
def xmlrpc(filters):
    return found(filters, "wpzo-wordpress-xmlrpc", list(XMLRPC.values()))


@pytest.mark.parametrize("address", list(XMLRPC)[: len(XMLRPC_ABUSE)])
def test_xmlrpc_matches_every_post(xmlrpc, address):
    assert address in xmlrpc, XMLRPC[address]


@pytest.mark.parametrize("address", list(XMLRPC)[len(XMLRPC_ABUSE) :])
def test_xmlrpc_ignores_everything_else(xmlrpc, address):
    assert address not in xmlrpc, XMLRPC[address]


def test_every_filter_of_the_role_is_tested():
    assert sorted(template.name for template in FILTERS.glob("*.conf.j2")) == [
        "wpzo-wordpress-xmlrpc.conf.j2",
        "wpzo-wordpress.conf.j2",
    ]
