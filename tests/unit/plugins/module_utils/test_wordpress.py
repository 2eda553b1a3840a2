# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the logic behind wpzo.hosting.wordpress (module_utils/wordpress*.py) and of its program files."""

import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress as wp
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_config as wpconfig
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_programs as programs
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_validation as validation
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError, SiteError, ValidationError

PHP = shutil.which("php")
NASTY = "it's a \\ back\\slash, a $dollar, a \"quote\" and '); define('X',1); //"


# --- fixtures: archives, a fake runner, sites ----------------------------------------------------------------
PROGRAMS = pathlib.Path(__file__).resolve().parents[4] / "roles" / "sites" / "files" / "wordpress"
PROGRAMS_TEXT = programs.Programs(str(PROGRAMS))
DROP_INS = PROGRAMS_TEXT.drop_ins({"redis": None})
CACHE_PURGE_PLUGIN = DROP_INS["mu-plugins/wpzo-cache-purge.php"]


def reconcile(sites, ctx):
    """What the module reports: the result, or (a site failed) the result the failure carries."""
    try:
        return module_shell.finish(wp.compute(sites, ctx), ctx.check_mode, ctx.want_diff)
    except ModuleError as exc:
        if "failed" not in exc.details:
            raise
        return exc.details


def make_core(path, version="6.1.1", top="wordpress", extra=None):
    """A release-like core archive: wordpress/ with version.php, index.php and wp-content."""
    files = {
        "index.php": "<?php // index\n",
        "wp-settings.php": "<?php // settings\n",
        "wp-includes/version.php": "<?php\n$wp_version = '%s';\n" % version,
        "wp-content/index.php": "<?php // Silence is golden.\n",
        "wp-content/plugins/index.php": "<?php\n",
        "wp-content/themes/index.php": "<?php\n",
        "wp-config-sample.php": "<?php // sample\n",
    }
    files.update(extra or {})
    with tarfile.open(str(path), "w:gz") as archive:
        for name, text in sorted(files.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo("%s/%s" % (top, name))
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return str(path)


def make_zip(path, top, files=None):
    with zipfile.ZipFile(str(path), "w") as archive:
        for name, text in (files or {"%s.php" % top: "<?php /* Plugin Name: %s */\n" % top}).items():
            archive.writestr("%s/%s" % (top, name), text)
    return str(path)


def sha(path, algorithm="sha256"):
    with open(str(path), "rb") as handle:
        return "%s:%s" % (algorithm, hashlib.new(algorithm, handle.read()).hexdigest())


class FakeRunner:
    """Runs the site helper for real (as the current user) and plays php-cli with a fake database."""

    def __init__(self):
        self.calls = []
        self.databases = {}  # path -> installed?
        self.active = {}  # path -> set of "plugin:x"/"theme:y"
        self.php_fail = None

    def __call__(self, argv, user=None, group=None, data=b"", cwd=None):
        self.calls.append({"argv": list(argv), "user": user, "group": group, "data": data})
        if argv[0] == "php":
            return self.php(os.path.basename(argv[1]), json.loads(data.decode("utf-8")))
        proc = subprocess.run(argv, input=data, capture_output=True, check=False)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def php(self, program, data):
        if self.php_fail:
            return 255, "<p>Error establishing a database connection</p>", self.php_fail
        path = data["path"]
        if program == programs.INSTALL_PHP:
            before = self.databases.get(path, False)
            if data["install"] and not before:
                self.databases[path] = True
            return 0, "WPZO-RESULT:" + json.dumps({"installed_before": before, "installed": True}), ""
        wanted = ["plugin:" + p for p in data["plugins"]] + (["theme:" + data["theme"]] if data["theme"] else [])
        active = self.active.setdefault(path, set())
        activated = [name for name in wanted if name not in active]
        if not data["dry_run"]:
            active.update(activated)
        return 0, "WPZO-RESULT:" + json.dumps({"activated": activated, "errors": []}), ""

    def php_calls(self):
        return [call for call in self.calls if call["argv"][0] == "php"]


class FakeDownloader:
    def __init__(self, files=None):
        self.files = dict(files or {})
        self.calls = []

    def __call__(self, url, dest):
        self.calls.append(url)
        if url not in self.files:
            raise ModuleError("HTTP 404 Not Found")
        shutil.copyfile(self.files[url], dest)


@pytest.fixture
def env(tmp_path):
    class Env:
        pass

    e = Env()
    e.tmp = tmp_path
    e.core = make_core(tmp_path / "wordpress-6.1.1.tar.gz")
    e.core_sum = sha(e.core)
    e.runner = FakeRunner()
    e.downloader = FakeDownloader({"https://dl.example/wordpress-6.1.1.tar.gz": e.core})
    e.cache = str(tmp_path / "cache")
    e.ids = lambda owner, group: (os.getuid(), os.getgid())

    def ctx(**kwargs):
        options = dict(
            cache_dir=e.cache, php_binary="php", python_binary=sys.executable, ids=e.ids, programs_dir=PROGRAMS
        )
        options.update(kwargs)
        return wp.Context(e.runner, e.downloader, **options)

    e.ctx = ctx

    def site(name="a.example", **kwargs):
        root = tmp_path / "www" / name
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        value = {
            "domain": name,
            "path": str(root / "public"),
            "owner": "web",
            "version": "6.1.1",
            "core_src": e.core,
            "db_name": "wp_" + name.replace(".", "_"),
            "db_user": "wp_user",
            "db_password": NASTY,
            "admin_user": "siteadmin",
            "admin_email": "admin@" + name,
            "admin_password": "adm'in\\pa$$",
        }
        value.update(kwargs)
        return value

    e.site = site
    return e


def valid_site(**kwargs):
    site, errors = validation.validate_site(
        dict(
            {
                "domain": "example.com",
                "path": "/srv/www/example.com/public",
                "owner": "example_com",
                "version": "6.1.1",
                "core_checksum": "sha1:" + "a" * 40,
                "db_name": "wp_example_com",
                "db_user": "wp_example_com",
                "db_password": "secret",
                "admin_user": "siteadmin",
                "admin_email": "admin@example.com",
                "admin_password": "admin-secret",
            },
            **kwargs,
        )
    )
    assert errors == []
    return site


SALTS = wpconfig.complete_salts({}, generate=lambda: "s" * 64)


# --- PHP literals and escaping ---------------------------------------------------------------------------------
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


# --- salts -----------------------------------------------------------------------------------------------------
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


# --- validation ------------------------------------------------------------------------------------------------
def _errors(**kwargs):
    base = {
        "domain": "example.com",
        "path": "/srv/www/example.com/public",
        "owner": "example_com",
        "version": "6.1.1",
        "core_checksum": "sha1:" + "a" * 40,
        "db_name": "db",
        "db_user": "u",
        "db_password": "p",
        "admin_user": "admin",
        "admin_email": "a@example.com",
        "admin_password": "pw",
    }
    base.update(kwargs)
    return validation.validate_sites([base])[1]


def test_valid_site_has_no_errors_and_derived_defaults():
    site = valid_site()
    assert site["group"] == "example_com"
    assert site["url"] == "https://example.com" and site["tls"] is True
    assert site["title"] == "example.com"
    assert site["core_url"] == "https://wordpress.org/wordpress-6.1.1.tar.gz"
    assert site["purge_request_file"] == "/srv/www/example.com/tmp/.wpzo-purge-request"


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"table_prefix": "wp-"}, "table_prefix: 'wp-' must be letters, digits and _ only, at most 20"),
        ({"table_prefix": "wp_'; DROP"}, "table_prefix:"),
        ({"core_checksum": None}, "core_checksum: required when the core archive is downloaded"),
        ({"core_checksum": "md5:abc"}, "core_checksum: 'md5:abc' must be sha1:"),
        ({"core_checksum": "sha256:" + "a" * 40}, "core_checksum:"),
        ({"core_url": "ftp://x/y.tgz"}, "core_url: 'ftp://x/y.tgz' is not an http(s) URL"),
        ({"version": "latest"}, "version: 'latest' is not a WordPress version"),
        ({"version": None}, "version: required"),
        ({"owner": "root"}, "owner: 'root' must be the site's system user"),
        ({"path": "relative/public"}, "path: 'relative/public' must be an absolute"),
        ({"path": "/srv/www/x/../y"}, "path:"),
        ({"domain": "not_a domain"}, "domain:"),
        ({"db_password": None}, "db_password: required"),
        ({"db_password": "a\nb"}, "db_password: must not contain control characters"),
        ({"admin_password": " pw"}, "admin_password: must not start or end with white space"),
        ({"admin_email": "nobody"}, "admin_email: 'nobody' is not an e-mail address"),
        ({"admin_user": "bad/user"}, "admin_user:"),
        ({"locale": "english"}, "locale: 'english'"),
        ({"auto_update_core": "sometimes"}, "auto_update_core: 'sometimes' is not one of"),
        ({"url": "https://example.com/it's"}, "url:"),
        ({"extra_constants": {"DB_PASSWORD": "x"}}, "extra_constants.DB_PASSWORD: set by the module itself"),
        ({"extra_constants": {"bad name": 1}}, "extra_constants: 'bad name' is not a PHP constant name"),
        ({"extra_constants": {"X": "a\nb"}}, "extra_constants.X: must not contain control characters"),
        ({"extra_constants": {"X": float("inf")}}, "extra_constants.X: inf is not a finite number"),
        ({"redis": {"username": "u"}}, "redis.password: required with redis.username"),
        ({"redis": {"host": "h", "path": "/run/r.sock"}}, "redis: give either path"),
        ({"redis": {"database": 16}}, "redis.database: 16 must be an integer from 0 to 15"),
        ({"plugins": [{"name": "akismet", "url": "https://x/a.zip"}]}, "plugins[0].checksum: required with url"),
        ({"plugins": [{"name": "../evil", "src": "/tmp/a.zip"}]}, "plugins[0].name:"),
        (
            {
                "themes": [
                    {"name": "a", "src": "/a.zip", "activate": True},
                    {"name": "b", "src": "/b.zip", "activate": True},
                ]
            },
            "themes: only one theme can be activated",
        ),
        ({"purge_request_file": "tmp/x"}, "purge_request_file:"),
    ],
)
def test_validation_errors_name_site_and_field(kwargs, expected):
    errors = _errors(**kwargs)
    assert errors, kwargs
    label = "site '%s' (sites[0]): " % kwargs.get("domain", "example.com")
    assert any(error.startswith(label) and expected in error for error in errors), errors


def test_core_src_makes_checksum_optional_and_wins_over_url():
    assert _errors(core_checksum=None, core_src="/srv/archives/wordpress.tar.gz") == []
    site = valid_site(core_src="/srv/archives/wordpress.tar.gz", core_url="https://x/y.tar.gz")
    assert site["core_src"] == "/srv/archives/wordpress.tar.gz"


def test_boolean_auto_update_values_are_accepted():
    assert valid_site(auto_update_core=False)["auto_update_core"] == "false"
    assert valid_site(auto_update_core="none")["auto_update_core"] == "false"
    assert valid_site(auto_update_core=True)["auto_update_core"] == "major"


def test_duplicate_domains_and_paths_are_reported():
    site = {
        "domain": "example.com",
        "path": "/srv/www/example.com/public",
        "owner": "u",
        "version": "6.1.1",
        "core_src": "/a.tar.gz",
        "db_name": "d",
        "db_user": "u",
        "db_password": "p",
        "admin_user": "a",
        "admin_email": "a@example.com",
        "admin_password": "p",
    }
    errors = validation.validate_sites([site, dict(site)])[1]
    assert "site 'example.com' (sites[1]): domain: example.com is already used by sites[0]" in errors
    assert any("sites[1]): path: /srv/www/example.com/public is already used" in e for e in errors)


def test_every_problem_of_every_site_is_reported_at_once():
    errors = validation.validate_sites([{"domain": "a.example"}, {"domain": "b.example", "table_prefix": "-"}])[1]
    assert any(e.startswith("site 'a.example' (sites[0]): path: required") for e in errors)
    assert any(e.startswith("site 'b.example' (sites[1]): table_prefix:") for e in errors)
    assert any(e.startswith("site 'b.example' (sites[1]): admin_password: required") for e in errors)


# --- masking -------------------------------------------------------------------------------------------------
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


# --- planning (no side effects) ------------------------------------------------------------------------------
def _state(**kwargs):
    missing = wp.Existing("missing", None, None, None, None)
    values = dict(
        version="6.1.1",
        config=missing,
        mu_plugins=dict((name, missing) for name in programs.MU_PLUGINS),
        plugins={},
        themes={},
        marker=None,
        path_ok=True,
    )
    values.update(kwargs)
    return wp.SiteState(**values)


def test_plan_of_an_unchanged_site_does_nothing():
    site = valid_site()
    config = wpconfig.render_config(site, wpconfig.complete_salts({})).encode()
    mu = dict((n, wp.Existing("file", c.encode(), 0, 0, wp.MU_PLUGIN_MODE)) for n, c in DROP_INS.items())
    marker = {"fingerprint": wp.db_fingerprint(site), "activation": wp.activation_fingerprint(site)}
    state = _state(config=wp.Existing("file", config, 0, 0, wpconfig.CONFIG_MODE), mu_plugins=mu, marker=marker)
    plan = wp.plan_site(site, state, DROP_INS, ids=(0, 0))
    assert not (plan.core or plan.config_content_changed or plan.config_meta_changed or plan.mu_plugins)
    assert not (plan.plugins or plan.themes or plan.check_install or plan.activate)


def test_plan_detects_owner_or_mode_drift():
    site = valid_site()
    config = wpconfig.render_config(site, wpconfig.complete_salts({})).encode()
    plan = wp.plan_site(site, _state(config=wp.Existing("file", config, 0, 0, 0o644)), DROP_INS, ids=(0, 0))
    assert plan.config_meta_changed and not plan.config_content_changed


@pytest.mark.parametrize(
    "marker, verify, expected",
    [
        (None, False, True),  # never checked
        ({"fingerprint": "stale"}, False, True),  # database settings changed
        ("current", False, False),  # marker vouches
        ("current", True, True),  # verify_installed forces the check
    ],
)
def test_installed_check_only_when_the_marker_cannot_vouch(marker, verify, expected):
    site = valid_site()
    if marker == "current":
        marker = {"fingerprint": wp.db_fingerprint(site)}
    plan = wp.plan_site(site, _state(marker=marker), DROP_INS, verify_installed=verify, ids=(0, 0))
    assert plan.check_install is expected


def test_database_password_change_rechecks_installation():
    site = valid_site()
    marker = {"fingerprint": wp.db_fingerprint(site)}
    plan = wp.plan_site(dict(site, db_password="rotated"), _state(marker=marker), DROP_INS, ids=(0, 0))
    assert plan.check_install


def test_unmanaged_config_is_refused_unless_adopted():
    site = valid_site()
    foreign = wp.Existing("file", b"<?php\ndefine('AUTH_KEY', 'keep-me');\n", 0, 0, 0o644)
    with pytest.raises(SiteError, match=r"not managed by wpzo\.hosting\.wordpress"):
        wp.plan_site(site, _state(config=foreign), DROP_INS, ids=(0, 0))
    plan = wp.plan_site(dict(site, adopt_config=True), _state(config=foreign), DROP_INS, ids=(0, 0))
    assert "define( 'AUTH_KEY', 'keep-me' );" in plan.config_text


def test_irregular_config_is_an_error():
    with pytest.raises(SiteError, match="not a regular file"):
        wp.plan_site(valid_site(), _state(config=wp.Existing("other", None, 0, 0, 0o777)), DROP_INS, ids=(0, 0))


def test_installer_result_parsing():
    assert programs.parse_php_result('junk\nWPZO-RESULT:{"a": 1}\n') == {"a": 1}
    assert programs.parse_php_result("<html>Error establishing a database connection</html>") is None
    assert programs.parse_php_result("WPZO-RESULT:{broken") is None


# --- reconcile with fakes ------------------------------------------------------------------------------------
def test_first_run_installs_second_run_changes_nothing(env):
    sites = [env.site("a.example", page_cache=True), env.site("b.example")]
    first = reconcile(sites, env.ctx())
    assert first["changed"] is True
    assert first["added"] == ["a.example", "b.example"] and first["updated"] == []
    assert first["sites"]["a.example"] == {
        "version": "6.1.1",
        "url": "https://a.example",
        "path": sites[0]["path"],
        "changed": ["core", "config", "mu_plugins", "install"],
    }
    public = env.tmp / "www" / "a.example" / "public"
    assert (public / "index.php").is_file() and not (public / "wordpress").exists()
    config = public / "wp-config.php"
    assert oct(config.stat().st_mode & 0o777) == "0o600"  # the web server, in the site group, cannot read it
    assert wpconfig.MARKER in config.read_text().splitlines()[1]
    assert "WPZO_PURGE_REQUEST_FILE" in config.read_text()
    mu = public / "wp-content" / "mu-plugins" / "wpzo-cache-purge.php"
    assert mu.read_text() == CACHE_PURGE_PLUGIN
    assert json.loads((env.tmp / "cache" / "installed" / "a.example").read_text())["domain"] == "a.example"
    assert len(env.runner.php_calls()) == 2
    salts_before = wpconfig.existing_salts(config.read_text())

    env.runner.calls.clear()
    second = reconcile(sites, env.ctx())
    assert second["changed"] is False
    assert second["unchanged"] == ["a.example", "b.example"]
    assert second["sites"]["a.example"]["changed"] == []
    assert env.runner.calls == []  # no helper, no php-cli
    assert wpconfig.existing_salts(config.read_text()) == salts_before


def test_secrets_never_reach_a_command_line(env):
    reconcile([env.site()], env.ctx())
    for call in env.runner.calls:
        joined = " ".join(call["argv"])
        assert NASTY not in joined and "adm'in" not in joined and "adm\\'in" not in joined
        assert call["user"] == "web" and call["group"] == "web"
    installer = env.runner.php_calls()[0]
    assert installer["argv"] == ["php", str(PROGRAMS / programs.INSTALL_PHP)]
    assert json.loads(installer["data"].decode())["admin_password"] == "adm'in\\pa$$"  # on stdin, as JSON


def test_downloaded_core_is_cached_once_and_verified_on_reuse(env):
    url = "https://dl.example/wordpress-6.1.1.tar.gz"
    sites = [
        env.site("a.example", core_src=None, core_url=url, core_checksum=env.core_sum),
        env.site("b.example", core_src=None, core_url=url, core_checksum=env.core_sum),
    ]
    result = reconcile(sites, env.ctx())
    assert result["added"] == ["a.example", "b.example"]
    assert env.downloader.calls == [url]  # one download for both sites
    cached = env.tmp / "cache" / "core" / "wordpress-6.1.1.tar.gz"
    assert sha(cached) == env.core_sum

    # A corrupted cache is not trusted: it is downloaded again and verified.
    cached.write_bytes(b"corrupt")
    third = env.site("c.example", core_src=None, core_url=url, core_checksum=env.core_sum)
    assert reconcile([third], env.ctx())["added"] == ["c.example"]
    assert env.downloader.calls == [url, url]
    assert sha(cached) == env.core_sum


def test_bad_checksum_fails_the_site_cleanly_and_others_go_on(env):
    url = "https://dl.example/wordpress-6.1.1.tar.gz"
    bad = env.site("bad.example", core_src=None, core_url=url, core_checksum="sha256:" + "0" * 64)
    good = env.site("good.example")
    result = reconcile([bad, good], env.ctx())
    message = result["failed"]["bad.example"]
    assert message.startswith("site 'bad.example' (sites[0]): core_checksum: the archive downloaded from " + url)
    assert "expected sha256:" + "0" * 64 in message and "nothing was extracted" in message
    public = env.tmp / "www" / "bad.example" / "public"
    assert not public.exists() or os.listdir(str(public)) == []
    assert os.listdir(str(env.tmp / "www" / "bad.example")) == ["tmp"]  # no temp dirs left behind
    assert not (env.tmp / "cache" / "core" / "wordpress-6.1.1.tar.gz").exists()
    assert [n for n in os.listdir(str(env.tmp / "cache" / "core")) if n.startswith(".")] == []
    assert not (env.tmp / "cache" / "installed" / "bad.example").exists()
    assert result["added"] == ["good.example"]


def test_bad_checksum_of_a_host_archive_names_core_checksum(env):
    site = env.site(core_checksum="sha1:" + "f" * 40)
    result = reconcile([site], env.ctx())
    assert "core_checksum: %s has sha1:" % env.core in result["failed"]["a.example"]
    assert not (env.tmp / "www" / "a.example" / "public" / "index.php").exists()


def test_archive_with_another_version_is_not_extracted(env):
    other = make_core(env.tmp / "other.tar.gz", version="6.0")
    result = reconcile([env.site(core_src=other)], env.ctx())
    assert "the archive holds WordPress 6.0, not 6.1.1" in result["failed"]["a.example"]
    public = env.tmp / "www" / "a.example" / "public"
    assert not public.exists() or os.listdir(str(public)) == []
    assert os.listdir(str(env.tmp / "www" / "a.example")) == ["tmp"]


def test_archive_escaping_its_directory_is_refused(env):
    evil = make_core(env.tmp / "evil.tar.gz", extra={"../../escaped.php": "<?php\n"})
    result = reconcile([env.site(core_src=evil)], env.ctx())
    assert "is not inside wordpress/" in result["failed"]["a.example"]
    assert not (env.tmp / "www" / "escaped.php").exists()


def test_existing_files_are_never_overwritten(env):
    public = env.tmp / "www" / "a.example" / "public"
    public.mkdir(parents=True)
    (public / "index.php").write_text("<?php // mine\n")
    ctx = env.ctx()
    result = reconcile([env.site()], ctx)
    assert result["added"] == ["a.example"]
    assert (public / "index.php").read_text() == "<?php // mine\n"
    assert (public / "wp-settings.php").is_file()
    assert ctx.warnings and "index.php" in ctx.warnings[0]


def test_check_mode_changes_nothing_and_predicts(env):
    site = env.site()
    result = reconcile([site], env.ctx(check_mode=True, want_diff=True))
    assert result["changed"] is True and result["added"] == ["a.example"]
    assert result["sites"]["a.example"]["changed"] == ["core", "config", "mu_plugins", "install"]
    assert not (env.tmp / "www" / "a.example" / "public").exists()
    assert not (env.tmp / "cache").exists()
    assert env.runner.calls == []
    texts = json.dumps(result["diff"])
    assert NASTY not in texts and json.dumps(NASTY)[1:-1] not in texts


def test_check_mode_of_an_installed_site_without_marker_asks_the_database(env):
    site = env.site()
    reconcile([site], env.ctx())
    os.unlink(str(env.tmp / "cache" / "installed" / "a.example"))
    env.runner.calls.clear()
    result = reconcile([site], env.ctx(check_mode=True))
    assert result["changed"] is False
    assert len(env.runner.php_calls()) == 1
    assert env.runner.php_calls()[0]["argv"][1].endswith("/" + programs.INSTALL_PHP)
    assert '"install": false' in env.runner.php_calls()[0]["data"].decode()


def test_missing_marker_rechecks_without_reinstalling(env):
    site = env.site()
    reconcile([site], env.ctx())
    os.unlink(str(env.tmp / "cache" / "installed" / "a.example"))
    env.runner.calls.clear()
    result = reconcile([site], env.ctx())
    assert result["changed"] is False
    assert len(env.runner.php_calls()) == 1
    assert (env.tmp / "cache" / "installed" / "a.example").exists()


def test_dropped_database_is_found_with_verify_installed(env):
    site = env.site()
    reconcile([site], env.ctx())
    env.runner.databases.clear()  # the database was dropped behind the module's back
    assert reconcile([site], env.ctx())["changed"] is False  # the marker vouches (documented trade-off)
    result = reconcile([site], env.ctx(verify_installed=True))
    assert result["sites"]["a.example"]["changed"] == ["install"]


def test_config_change_is_an_update_with_masked_diff(env):
    site = env.site()
    reconcile([site], env.ctx())
    env.runner.calls.clear()
    changed = dict(site, db_password="rotated-password", extra_constants={"WP_DEBUG": True})
    result = reconcile([changed], env.ctx(want_diff=True))
    assert result["updated"] == ["a.example"]
    assert result["sites"]["a.example"]["changed"] == ["config"]
    entry = result["diff"][0]
    assert entry["before_header"].endswith("wp-config.php")
    assert "rotated-password" not in entry["after"] and NASTY not in entry["before"]
    assert "define( 'DB_PASSWORD', '******** (changed)' );" in entry["after"]
    assert "define( 'WP_DEBUG', true );" in entry["after"]
    assert len(env.runner.php_calls()) == 1  # database settings changed: the install is checked again


def test_failing_php_fails_the_site_and_writes_no_marker(env):
    env.runner.php_fail = "PHP Fatal error: mysqli_real_connect(): (HY000/2002)"
    result = reconcile([env.site()], env.ctx())
    assert "the install check through php-cli failed (rc=255)" in result["failed"]["a.example"]
    assert "Error establishing a database connection" in result["failed"]["a.example"]
    assert not (env.tmp / "cache" / "installed" / "a.example").exists()
    # What was done before the failure is still reported.
    assert result["changed"] is True and result["added"] == ["a.example"]
    assert result["sites"]["a.example"]["changed"] == ["core", "config", "mu_plugins"]
    assert result["sites"]["a.example"]["failed"] is True
    env.runner.php_fail = None
    assert reconcile([env.site()], env.ctx())["added"] == ["a.example"]  # core present: the install runs


def test_plugins_and_themes_are_extracted_and_activated_once(env):
    plugin = make_zip(env.tmp / "hello.zip", "hello")
    theme = make_zip(env.tmp / "t.zip", "mytheme", {"style.css": "/* Theme Name: My */\n"})
    url = "https://dl.example/mytheme.zip"
    env.downloader.files[url] = theme
    site = env.site(
        plugins=[{"name": "hello", "src": plugin, "activate": True}],
        themes=[{"name": "mytheme", "url": url, "checksum": sha(theme, "sha1"), "activate": True}],
    )
    first = reconcile([site], env.ctx())
    assert first["sites"]["a.example"]["changed"] == [
        "core",
        "config",
        "mu_plugins",
        "plugins",
        "themes",
        "install",
        "activation",
    ]
    content = env.tmp / "www" / "a.example" / "public" / "wp-content"
    assert (content / "plugins" / "hello" / "hello.php").is_file()
    assert (content / "themes" / "mytheme" / "style.css").is_file()
    assert [n for n in os.listdir(str(content / "plugins")) if n.startswith(".")] == []
    assert env.runner.active[site["path"]] == {"plugin:hello", "theme:mytheme"}
    env.runner.calls.clear()
    assert reconcile([site], env.ctx())["changed"] is False
    assert env.runner.calls == []
    # A new plugin to activate is extracted and activated; the others are left alone.
    other = make_zip(env.tmp / "other.zip", "other")
    site["plugins"].append({"name": "other", "src": other, "activate": True})
    result = reconcile([site], env.ctx())
    assert result["sites"]["a.example"]["changed"] == ["plugins", "activation"]


def test_bundled_plugin_needs_no_archive_but_a_missing_one_fails(env):
    bundled = make_core(env.tmp / "bundled.tar.gz", extra={"wp-content/plugins/akismet/akismet.php": "<?php\n"})
    site = env.site(core_src=bundled, plugins=[{"name": "akismet", "activate": True}])
    result = reconcile([site], env.ctx())
    assert result.get("failed") is None, result["failed"]
    assert result["sites"]["a.example"]["changed"][-1] == "activation"
    site = env.site("b.example", plugins=[{"name": "missing"}])
    message = reconcile([site], env.ctx())["failed"]["b.example"]
    assert "plugins[0] (missing): " in message and "neither src nor url is given" in message


def test_plugin_with_a_bad_checksum_names_the_plugin(env):
    plugin = make_zip(env.tmp / "hello.zip", "hello")
    url = "https://dl.example/hello.zip"
    env.downloader.files[url] = plugin
    site = env.site(plugins=[{"name": "hello", "url": url, "checksum": "sha256:" + "1" * 64}])
    result = reconcile([site], env.ctx())
    assert "(sites[0]): plugins[0].checksum: the archive downloaded from %s" % url in result["failed"]["a.example"]
    assert not (env.tmp / "www" / "a.example" / "public" / "wp-content" / "plugins" / "hello").exists()


def test_plugin_archive_with_the_wrong_top_directory_is_refused(env):
    plugin = make_zip(env.tmp / "hello.zip", "hello-1.0")
    site = env.site(plugins=[{"name": "hello", "src": plugin}])
    message = reconcile([site], env.ctx())["failed"]["a.example"]
    assert "plugins[0] (hello): archive member 'hello-1.0/hello-1.0.php' is not inside hello/" in message


def test_zip_with_a_symlink_is_refused(env):
    path = env.tmp / "link.zip"
    with zipfile.ZipFile(str(path), "w") as archive:
        info = zipfile.ZipInfo("hello/link")
        info.external_attr = (0o120777 << 16) | 0
        archive.writestr(info, "/etc/passwd")
    message = reconcile([env.site(plugins=[{"name": "hello", "src": str(path)}])], env.ctx())["failed"]
    assert "is a symbolic link" in message["a.example"]


def test_path_with_a_symlink_is_refused(env):
    real = env.tmp / "elsewhere"
    real.mkdir()
    (env.tmp / "www" / "a.example").mkdir(parents=True)
    os.symlink(str(real), str(env.tmp / "www" / "a.example" / "public"))
    result = reconcile([env.site()], env.ctx())
    assert "must not contain symbolic links" in result["failed"]["a.example"]
    assert os.listdir(str(real)) == []


def test_symlinked_parent_of_a_missing_path_is_refused(env):
    real = env.tmp / "elsewhere"
    real.mkdir()
    (env.tmp / "www").mkdir()
    os.symlink(str(real), str(env.tmp / "www" / "a.example"))
    site = dict(env.site(), path=str(env.tmp / "www" / "a.example" / "public"))
    result = reconcile([site], env.ctx())
    assert "must not contain symbolic links" in result["failed"]["a.example"]
    assert os.listdir(str(real)) == ["tmp"]


def test_unknown_owner_fails_the_site(env):
    def ids(owner, group):
        raise KeyError(owner)

    result = reconcile([env.site()], env.ctx(ids=ids))
    assert "owner/group: user 'web' or group 'web' does not exist" in result["failed"]["a.example"]


def test_validation_error_changes_nothing(env):
    with pytest.raises(ValidationError) as info:
        reconcile([env.site(table_prefix="wp-"), env.site("b.example")], env.ctx())
    assert info.value.errors == [
        "site 'a.example' (sites[0]): table_prefix: 'wp-' must be letters, digits and _ only, at most 20"
    ]
    assert not (env.tmp / "www" / "b.example" / "public").exists()
    assert env.runner.calls == []


def test_mu_plugin_is_restored_when_edited(env):
    site = env.site()
    reconcile([site], env.ctx())
    mu = env.tmp / "www" / "a.example" / "public" / "wp-content" / "mu-plugins" / "wpzo-cache-purge.php"
    mu.write_text(mu.read_text() + "// edited\n")
    result = reconcile([site], env.ctx())
    assert result["sites"]["a.example"]["changed"] == ["mu_plugins"]
    assert mu.read_text() == CACHE_PURGE_PLUGIN


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


# --- the plan of ordered steps, computed before anything runs -------------------------------------------------
def test_a_new_site_is_planned_as_ordered_steps_before_anything_runs(env):
    site = validation.validate_sites(
        [env.site(plugins=[{"name": "hello", "src": make_zip(env.tmp / "h.zip", "hello")}])]
    )[0][0]
    steps, outcome = wp.plan_one(site, env.ctx())
    assert [step.changes for step in steps] == [["core"], ["config", "mu_plugins"], ["plugins"], [], []]
    assert all(step.run is not None for step in steps)  # install check, then the marker: what WordPress says
    assert env.runner.calls == [] and not os.path.exists(site["path"])  # planned, nothing done
    assert outcome == {"version": "6.1.1"}
    progress = {}
    wp.run_steps(steps, progress)
    assert progress["changes"] == ["core", "config", "mu_plugins", "plugins", "install"]
    assert wp.installed_version(site["path"]) == "6.1.1"


def test_a_failing_step_stops_its_site_and_progress_says_what_was_done(env):
    site = validation.validate_sites([env.site(plugins=[{"name": "gone", "src": str(env.tmp / "missing.zip")}])])[0][0]
    steps, _outcome = wp.plan_one(site, env.ctx())
    progress = {}
    with pytest.raises(SiteError, match=r"missing\.zip does not exist"):
        wp.run_steps(steps, progress)
    assert progress["changes"] == ["core", "config", "mu_plugins"]  # the install check never ran
    assert env.runner.php_calls() == []


def test_check_mode_before_the_programs_are_installed_predicts_the_drop_ins(env):
    ctx = env.ctx(check_mode=True, want_diff=True, programs_dir=str(env.tmp / "not-installed"))
    result = reconcile([env.site()], ctx)
    assert result["sites"]["a.example"]["changed"] == ["core", "config", "mu_plugins", "install"]
    mu = [entry for entry in result["diff"] if entry["after_header"].endswith("wpzo-cache-purge.php")]
    assert mu[0]["after"] == wp.NOT_INSTALLED % (env.tmp / "not-installed")
    assert env.runner.calls == []


def test_a_real_run_without_the_programs_fails_the_site_and_writes_nothing(env):
    result = reconcile([env.site()], env.ctx(programs_dir=str(env.tmp / "not-installed")))
    assert "is not installed: the sites role installs it" in result["failed"]["a.example"]
    assert env.runner.calls == [] and not (env.tmp / "www" / "a.example" / "public").exists()


def test_a_drop_in_without_the_marker_is_refused(tmp_path):
    (tmp_path / "wpzo-cache-purge.php").write_text("<?php // someone else's\n")
    with pytest.raises(SiteError, match="lacks the module's marker"):
        programs.Programs(str(tmp_path)).drop_ins({"redis": None})


def test_check_mode_on_a_server_whose_programs_are_not_installed_yet_predicts_instead_of_asking(env, tmp_path):
    """A server converged before the programs were files: check mode must not fail, nor run what is missing."""
    site = env.site()
    reconcile([site], env.ctx())
    os.unlink(str(env.tmp / "cache" / "installed" / "a.example"))
    env.runner.calls.clear()
    partial = tmp_path / "drop-ins-only"
    partial.mkdir()
    for name in ("wpzo-cache-purge.php",):
        shutil.copy(str(PROGRAMS / name), str(partial / name))
    result = reconcile([site], env.ctx(check_mode=True, programs_dir=str(partial)))
    assert "failed" not in result
    # WordPress cannot be asked without install.php: without its marker the site is predicted as installed anew
    assert result["sites"]["a.example"]["changed"] == ["install"]
    assert env.runner.calls == []
