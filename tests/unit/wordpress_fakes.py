# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the unit tests of wpzo.hosting.wordpress share: archives, a fake runner and downloader, sites, an
environment of them in a temporary directory, and the program files of roles/sites/files/wordpress."""

import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress as wp
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_programs as programs
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress_validation as validation
from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError

PHP = shutil.which("php")


NASTY = "it's a \\ back\\slash, a $dollar, a \"quote\" and '); define('X',1); //"


PROGRAMS = pathlib.Path(__file__).resolve().parents[2] / "roles" / "sites" / "files" / "wordpress"


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


def environment(tmp_path):
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
