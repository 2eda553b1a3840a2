# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wordpress_programs and the program files it installs (roles/sites/files/wordpress): input, results, drop-ins."""

import json
import re
import subprocess

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_config as wpconfig
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_programs as programs
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import SiteError
from wordpress_fakes import (
    CACHE_PURGE_PLUGIN,
    NASTY,
    PHP,
    PROGRAMS,
    PROGRAMS_TEXT,
)


@pytest.mark.skipif(PHP is None, reason="php-cli is not installed")
def test_the_php_programs_read_their_input_from_standard_input(tmp_path):
    """wpzo.php (what install.php and activate.php require) gets any input intact, and answers on one line."""
    data = {"path": "/x", "url": "https://example.com:8443", "password": NASTY, "unicode": "\u00e9\u4e2d"}
    program = tmp_path / "echo.php"
    program.write_text("<?php\nrequire %s;\necho 'noise';\nwpzo_result( array( $wpzo, $_SERVER['HTTP_HOST'] ) );\n"
                       % wpconfig.php_string(str(PROGRAMS / "wpzo.php")))  # fmt: skip
    proc = subprocess.run([PHP, str(program)], input=json.dumps(data), capture_output=True, text=True, check=True)
    assert programs.parse_php_result(proc.stdout) == [data, "example.com:8443"]
    assert NASTY not in " ".join(proc.args)  # a secret never reaches a command line


def test_installer_result_parsing():
    assert programs.parse_php_result('junk\nWPZO-RESULT:{"a": 1}\n') == {"a": 1}
    assert programs.parse_php_result("<html>Error establishing a database connection</html>") is None
    assert programs.parse_php_result("WPZO-RESULT:{broken") is None


@pytest.mark.skipif(PHP is None, reason="php-cli is not installed")
def test_mu_plugin_is_valid_php():
    for program in sorted(PROGRAMS.glob("*.php")):
        proc = subprocess.run([PHP, "-l", str(program)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(PHP is None, reason="php-cli is not installed")
def test_mu_plugin_writes_one_purge_request_per_request(tmp_path):
    """Load the mu-plugin with tiny stand-ins for WordPress's hook API and fire hooks."""
    request = tmp_path / "purge-request"
    (tmp_path / "plugin.php").write_text(CACHE_PURGE_PLUGIN)
    harness = """<?php
define( 'ABSPATH', '/' );
define( 'WPZO_PURGE_REQUEST_FILE', %s );
$GLOBALS['hooks'] = array();
function add_action( $hook, $cb, $prio = 10, $args = 1 ) { $GLOBALS['hooks'][ $hook ][] = array( $cb, $args ); }
function do_action( $hook, ...$args ) {
    $GLOBALS['current'] = $hook;
    foreach ( isset( $GLOBALS['hooks'][ $hook ] ) ? $GLOBALS['hooks'][ $hook ] : array() as $h ) {
        call_user_func_array( $h[0], array_slice( $args, 0, $h[1] ) );
    }
}
function current_action() { return $GLOBALS['current']; }
function wp_is_post_revision( $p ) { return false; }
function wp_is_post_autosave( $p ) { return false; }
function is_post_type_viewable( $t ) { return 'post' === $t; }
require %s;
$draft = (object) array( 'post_status' => 'draft', 'post_type' => 'post' );
do_action( 'save_post', 1, $draft, true );
do_action( 'shutdown' );
echo file_exists( WPZO_PURGE_REQUEST_FILE ) ? "written\\n" : "none\\n";
$post = (object) array( 'post_status' => 'publish', 'post_type' => 'post' );
do_action( 'save_post', 1, $post, true );
do_action( 'comment_post', 5, 1 );
do_action( 'switch_theme' );
do_action( 'shutdown' );
echo file_get_contents( WPZO_PURGE_REQUEST_FILE );
""" % (wpconfig.php_string(str(request)), wpconfig.php_string(str(tmp_path / "plugin.php")))
    proc = subprocess.run([PHP], input=harness, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "none"
    assert re.match(r"^[0-9]+ save_post,comment_post,switch_theme$", lines[1]), lines


def test_object_cache_drop_in_only_for_sites_with_redis():
    assert list(PROGRAMS_TEXT.drop_ins({"redis": None})) == ["mu-plugins/wpzo-cache-purge.php"]
    with_redis = PROGRAMS_TEXT.drop_ins({"redis": {"path": "/run/redis/redis-server.sock"}})
    assert list(with_redis) == ["mu-plugins/wpzo-cache-purge.php", "object-cache.php"]
    assert wpconfig.is_managed(with_redis["object-cache.php"].encode())
    assert "FLUSHDB" not in with_redis["object-cache.php"].upper().replace("WP_CACHE_FLUSH", "")


def test_a_drop_in_without_the_marker_is_refused(tmp_path):
    (tmp_path / "wpzo-cache-purge.php").write_text("<?php // someone else's\n")
    with pytest.raises(SiteError, match="lacks the module's marker"):
        programs.Programs(str(tmp_path)).drop_ins({"redis": None})
