# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wordpress (the reconcile): the plan of each site, the ordered steps, a reconcile with fakes."""

import json
import os
import shutil

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress as wp
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_config as wpconfig
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_programs as programs
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_validation as validation
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import SiteError, ValidationError
from wordpress_fakes import (
    CACHE_PURGE_PLUGIN,
    DROP_INS,
    NASTY,
    PROGRAMS,
    environment,
    make_core,
    make_zip,
    reconcile,
    sha,
    valid_site,
)


@pytest.fixture
def env(tmp_path):
    return environment(tmp_path)


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
