# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time reconciling unchanged WordPress sites with wpzo.hosting.wordpress (not a test; run it by hand).

    .venv/bin/python tests/integration/wordpress/bench.py [SITES] [ROUNDS]

Installs SITES (default 200) sites into a temp dir once, with a small stand-in core archive, the real
extraction helper and a fake php-cli, then reconciles the same list ROUNDS times (default 5) and prints the best
and median time of the whole call and per site. An unchanged site costs file reads and comparisons only:
the assertion at the end checks that no program ran.
"""

import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time

from ansible_collections.wpzo.hosting.plugins.module_utils import module_shell
from ansible_collections.wpzo.hosting.plugins.module_utils import wordpress as wp

PROGRAMS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "roles", "sites", "files", "wordpress"
)


def core_archive(path):
    files = {
        "index.php": "<?php\n",
        "wp-settings.php": "<?php\n",
        "wp-includes/version.php": "<?php\n$wp_version = '6.1.1';\n",
        "wp-content/index.php": "<?php\n",
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo("wordpress/" + name)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text.encode()))


class Runner:
    def __init__(self):
        self.calls = 0

    def __call__(self, argv, user=None, group=None, data=b"", cwd=None):
        import subprocess

        self.calls += 1
        if argv[0] == "php":
            return 0, "WPZO-RESULT:" + json.dumps({"installed_before": False, "installed": True}), ""
        proc = subprocess.run(argv, input=data, capture_output=True, check=False)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "wordpress.tar.gz")
        core_archive(archive)
        sites = []
        for i in range(count):
            domain = "site%04d.example.com" % i
            root = os.path.join(tmp, "www", domain)
            os.makedirs(os.path.join(root, "tmp"))
            sites.append(
                {
                    "domain": domain,
                    "path": os.path.join(root, "public"),
                    "owner": "web",
                    "version": "6.1.1",
                    "core_src": archive,
                    "db_name": "wp_site%04d" % i,
                    "db_user": "wp_site%04d" % i,
                    "db_password": "p'w\\%d$" % i,
                    "admin_user": "siteadmin",
                    "admin_email": "admin@" + domain,
                    "admin_password": "secret",
                    "page_cache": True,
                    "redis": {"username": "site%04d" % i, "password": "r"},
                    "extra_constants": {"WP_MEMORY_LIMIT": "256M"},
                }
            )
        runner = Runner()

        def ctx():
            return wp.Context(
                runner,
                None,
                cache_dir=os.path.join(tmp, "cache"),
                php_binary="php",
                python_binary=sys.executable,
                programs_dir=PROGRAMS,
                ids=lambda owner, group: (os.getuid(), os.getgid()),
            )

        start = time.perf_counter()
        first = module_shell.finish(wp.compute(sites, ctx()), False, False)
        setup = time.perf_counter() - start
        assert len(first["added"]) == count, first.get("failed")
        runner.calls = 0
        times = []
        for _round in range(rounds):
            start = time.perf_counter()
            result = module_shell.finish(wp.compute(sites, ctx()), False, False)
            times.append(time.perf_counter() - start)
            assert result["changed"] is False and len(result["unchanged"]) == count
        assert runner.calls == 0, "an unchanged site ran a program"
        print("%d sites installed (fake php, real extraction) in %.2f s" % (count, setup))
        print(
            "%d unchanged sites: best %.3f s, median %.3f s (%.2f ms per site), no subprocess"
            % (count, min(times), statistics.median(times), 1000 * statistics.median(times) / count)
        )


if __name__ == "__main__":
    main()
