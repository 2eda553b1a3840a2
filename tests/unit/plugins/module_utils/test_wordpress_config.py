# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wordpress_config: PHP literals, wp-config.php rendering, salts and the masked diff."""

import json
import subprocess

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_config as wpconfig
from wordpress_fakes import (
    NASTY,
    PHP,
    valid_site,
)

SALTS = wpconfig.complete_salts({}, generate=lambda: "s" * 64)


@pytest.mark.parametrize(
    "value, literal",
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("back\\slash", "'back\\\\slash'"),
        ("$dollar", "'$dollar'"),
        ("trailing\\", "'trailing\\\\'"),
        ("\\'", "'\\\\\\''"),
    ],
)
def test_php_string_escapes_backslash_and_quote_only(value, literal):
    assert wpconfig.php_string(value) == literal
    assert wpconfig.parse_php_string(literal) == value


def test_php_value_types():
    assert wpconfig.php_value(True) == "true"
    assert wpconfig.php_value(None) == "null"
    assert wpconfig.php_value(42) == "42"
    assert wpconfig.php_value(1.5) == "1.5"
    assert wpconfig.php_value(["u", "p'w"]) == "[ 'u', 'p\\'w' ]"
    assert wpconfig.php_value({"a": 1, "b": [True]}) == "[ 'a' => 1, 'b' => [ true ] ]"
    assert wpconfig.php_value([]) == "[]"
    with pytest.raises(ValueError):
        wpconfig.php_value(float("nan"))
    with pytest.raises(ValueError):
        wpconfig.php_value(object())


def test_read_defines_is_not_fooled_by_closing_parenthesis_in_strings():
    text = "define( 'AUTH_KEY', 'a\\');b' );\ndefine( 'WP_REDIS_PASSWORD', [ 'u', 'p);' ] );\n"
    defines = wpconfig.read_defines(text)
    assert wpconfig.parse_php_string(defines["AUTH_KEY"]) == "a');b"
    assert defines["WP_REDIS_PASSWORD"] == "[ 'u', 'p);' ]"


def test_rendered_config_has_marker_and_every_setting():
    site = valid_site(
        tls=True,
        page_cache=True,
        redis={"username": "example_com", "password": "r'p"},
        extra_constants={"WP_MEMORY_LIMIT": "256M", "WP_POST_REVISIONS": 10},
    )
    text = wpconfig.render_config(site, SALTS)
    lines = text.splitlines()
    assert lines[0] == "<?php"
    assert wpconfig.MARKER in lines[1]
    for expected in (
        "define( 'DB_NAME', 'wp_example_com' );",
        "define( 'DB_HOST', 'localhost' );",
        "$table_prefix = 'wp_';",
        "define( 'WP_HOME', 'https://example.com' );",
        "define( 'WP_SITEURL', 'https://example.com' );",
        "define( 'FORCE_SSL_ADMIN', true );",
        "define( 'DISALLOW_FILE_EDIT', true );",
        "define( 'WP_AUTO_UPDATE_CORE', 'minor' );",
        "define( 'DISABLE_WP_CRON', true );",
        "define( 'WP_CACHE', true );",
        "define( 'WPZO_PURGE_REQUEST_FILE', '/srv/www/example.com/tmp/.wpzo-purge-request' );",
        "define( 'WP_REDIS_SCHEME', 'unix' );",
        "define( 'WP_REDIS_PATH', '/run/redis/redis-server.sock' );",
        "define( 'WP_REDIS_PASSWORD', [ 'example_com', 'r\\'p' ] );",
        "define( 'WP_REDIS_PREFIX', 'example_com:' );",
        "define( 'WP_CACHE_KEY_SALT', 'example_com:' );",
        "define( 'WP_MEMORY_LIMIT', '256M' );",
        "define( 'WP_POST_REVISIONS', 10 );",
        "require_once ABSPATH . 'wp-settings.php';",
    ):
        assert expected in lines, expected
    assert sum(1 for name in wpconfig.SALT_NAMES if "define( '%s', '%s' );" % (name, "s" * 64) in lines) == 8
    assert text == wpconfig.render_config(site, SALTS)  # deterministic


def test_render_options_toggle_constants():
    site = valid_site(url="http://example.com", disable_wp_cron=False, auto_update_core="false")
    text = wpconfig.render_config(site, SALTS)
    assert site["tls"] is False
    assert "FORCE_SSL_ADMIN" not in text
    assert "DISABLE_WP_CRON" not in text
    assert "define( 'WP_AUTO_UPDATE_CORE', false );" in text
    assert "define( 'WP_CACHE', false );" in text
    assert "WPZO_PURGE_REQUEST_FILE" not in text  # only behind the page cache
    assert "WP_REDIS" not in text
    assert "define( 'WP_AUTO_UPDATE_CORE', true );" in wpconfig.render_config(
        valid_site(auto_update_core="true"), SALTS
    )
    assert "define( 'WP_AUTO_UPDATE_CORE', true );" in wpconfig.render_config(
        valid_site(auto_update_core="major"), SALTS
    )
    tcp = wpconfig.render_config(valid_site(redis={"host": "10.0.0.5", "password": "pw", "database": 3}), SALTS)
    assert "define( 'WP_REDIS_SCHEME', 'tcp' );" in tcp
    assert "define( 'WP_REDIS_PORT', 6379 );" in tcp
    assert "define( 'WP_REDIS_PASSWORD', 'pw' );" in tcp
    assert "define( 'WP_REDIS_DATABASE', 3 );" in tcp


@pytest.mark.skipif(PHP is None, reason="php-cli is not installed")
def test_php_reads_back_every_nasty_value(tmp_path):
    """Run php on a rendered wp-config.php: quotes, backslashes and $ come back unchanged."""
    salts = wpconfig.complete_salts({}, generate=wpconfig.generate_salt)
    salts["AUTH_KEY"] = "\\'\\\\'$x');"
    site = valid_site(
        db_password=NASTY,
        table_prefix="wp_2_",
        redis={"username": "u'ser", "password": NASTY},
        extra_constants={"MY_LIST": ["a'", {"k\\": "$v"}], "MY_TOKEN": NASTY},
    )
    (tmp_path / "wp-config.php").write_text(wpconfig.render_config(site, salts))
    (tmp_path / "wp-settings.php").write_text("<?php\n")
    (tmp_path / "dump.php").write_text(
        "<?php require __DIR__ . '/wp-config.php';\n"
        "$names = json_decode($argv[1]);\n"
        "$out = array('table_prefix' => $table_prefix);\n"
        "foreach ($names as $n) { $out[$n] = constant($n); }\n"
        "echo json_encode($out);\n"
    )
    names = ["DB_PASSWORD", "WP_REDIS_PASSWORD", "MY_LIST", "MY_TOKEN", *wpconfig.SALT_NAMES]
    proc = subprocess.run(
        [PHP, str(tmp_path / "dump.php"), json.dumps(names)], capture_output=True, text=True, check=True
    )
    got = json.loads(proc.stdout)
    assert got["DB_PASSWORD"] == NASTY
    assert got["WP_REDIS_PASSWORD"] == ["u'ser", NASTY]
    assert got["MY_LIST"] == ["a'", {"k\\": "$v"}]
    assert got["MY_TOKEN"] == NASTY
    assert got["table_prefix"] == "wp_2_"
    for name in wpconfig.SALT_NAMES:
        assert got[name] == salts[name]


def test_generated_salts_are_64_printable_characters_and_distinct():
    salts = wpconfig.complete_salts({})
    assert list(salts) == list(wpconfig.SALT_NAMES)
    assert all(len(value) == 64 and not any(c.isspace() for c in value) for value in salts.values())
    assert len(set(salts.values())) == 8


def test_existing_salts_are_parsed_back_and_reused():
    site = valid_site()
    first = wpconfig.complete_salts({})
    text = wpconfig.render_config(site, first)
    found = wpconfig.existing_salts(text)
    assert found == dict(first)
    assert wpconfig.render_config(site, wpconfig.complete_salts(found)) == text


def test_salts_of_a_foreign_config_are_kept_and_placeholders_replaced():
    text = (
        "<?php\ndefine('AUTH_KEY',         'k1;)\\'x');\n"
        'define( "SECURE_AUTH_KEY", "dq-value" );\n'
        "define( 'NONCE_KEY', 'put your unique phrase here' );\n"
    )
    found = wpconfig.existing_salts(text)
    assert found == {"AUTH_KEY": "k1;)'x", "SECURE_AUTH_KEY": "dq-value"}
    salts = wpconfig.complete_salts(found, generate=lambda: "new")
    assert salts["AUTH_KEY"] == "k1;)'x" and salts["NONCE_KEY"] == "new"


def test_diff_masks_every_secret_and_says_which_changed():
    site = valid_site(db_password=NASTY, redis={"username": "u", "password": "redis-secret"},
                      extra_constants={"STRIPE_SECRET": "sk_live_1", "PLAIN": "visible"})  # fmt: skip
    old_salts = wpconfig.complete_salts({})
    before = wpconfig.render_config(dict(site, db_password="old-db-password"), old_salts)
    after = wpconfig.render_config(site, old_salts)
    masked_before, masked_after = wpconfig.config_diff_texts(site, before, after)
    for secret in [NASTY, "old-db-password", "redis-secret", "sk_live_1", *old_salts.values()]:
        assert secret not in masked_before and secret not in masked_after
    assert "define( 'DB_PASSWORD', '********' );" in masked_before
    assert "define( 'DB_PASSWORD', '******** (changed)' );" in masked_after
    assert "define( 'AUTH_KEY', '********' );" in masked_after  # unchanged salt
    assert "define( 'WP_REDIS_PASSWORD', '********' );" in masked_after
    assert "define( 'PLAIN', 'visible' );" in masked_after
    assert "define( 'DB_NAME', 'wp_example_com' );" in masked_after


def test_new_config_diff_is_masked_without_changed_markers():
    site = valid_site()
    after = wpconfig.render_config(site, wpconfig.complete_salts({}))
    before_text, after_text = wpconfig.config_diff_texts(site, None, after)
    assert before_text == ""
    assert "secret" not in after_text and "(changed)" not in after_text
