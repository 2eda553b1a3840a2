# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wordpress_archives, through a reconcile with fakes: downloads cached and verified, archives that escape or do not
hold what they should refused before anything is extracted."""

import os
import zipfile

import pytest
from wordpress_fakes import (
    environment,
    make_core,
    make_zip,
    reconcile,
    sha,
)


@pytest.fixture
def env(tmp_path):
    return environment(tmp_path)


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
