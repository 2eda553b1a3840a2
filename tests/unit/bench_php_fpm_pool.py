# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time reconciling unchanged pools with wpzo.hosting.php_fpm_pool (not a test; run it by hand).

    .venv/bin/python tests/unit/bench_php_fpm_pool.py [POOLS] [ROUNDS]

Writes POOLS (default 500) pool files into a temp dir once, then reconciles the same list ROUNDS times
(default 5) and prints the best and median time of: validate + render, read + compare, and the whole call.
"""

import statistics
import sys
import tempfile
import time

from ansible_collections.wpzo.hosting.plugins.module_utils.php_fpm_pool import (
    desired_state,
    plan,
    read_existing,
    reconcile,
)


def make_pools(count):
    return [
        {
            "name": "site%04d.example.com" % i,
            "user": "site%04d" % i,
            "root": "/srv/www/site%04d.example.com" % i,
            "env": {"WP_ENV": "production", "DB_NAME": "site%04d" % i},
            "php_admin_values": {"max_execution_time": 60, "date.timezone": "UTC"},
        }
        for i in range(count)
    ]


def timed(func):
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def main(argv):
    count = int(argv[1]) if len(argv) > 1 else 500
    rounds = int(argv[2]) if len(argv) > 2 else 5
    pools = make_pools(count)
    with tempfile.TemporaryDirectory() as pool_dir:
        first = reconcile(pools, pool_dir, purge=True, validate=False)
        assert len(first["added"]) == count

        render_times, compare_times, total_times = [], [], []
        for _round in range(rounds):
            seconds, desired = timed(lambda: desired_state(pools, pool_dir))
            render_times.append(seconds)

            def read_and_plan(desired=desired):
                existing = read_existing(pool_dir, desired, purge=True)[0]
                return plan(desired, existing, purge=True)

            seconds, the_plan = timed(read_and_plan)
            compare_times.append(seconds)
            assert not the_plan.changed and len(the_plan.unchanged) == count

            seconds, result = timed(lambda: reconcile(pools, pool_dir, purge=True, validate=True))
            total_times.append(seconds)
            assert result["changed"] is False

    print("php_fpm_pool: %d unchanged pools, %d rounds (best / median)" % (count, rounds))
    for label, values in (
        ("validate + render", render_times),
        ("read + compare", compare_times),
        ("reconcile (total)", total_times),
    ):
        print("  %-18s %7.1f ms / %7.1f ms" % (label, min(values) * 1000, statistics.median(values) * 1000))


if __name__ == "__main__":
    main(sys.argv)
