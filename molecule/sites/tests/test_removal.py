"""Removing one site with -e site=: its final backup is made and read back first, then its pool, vhost, user and
tree go, and the server's configuration stays valid for every later run; the other sites keep serving."""

from test_sites import SITES_PLAYBOOK, inventory_sites

TEMP, BLOG = "temp.example.test", "blog.example.test"
TEMP_SITE = {"domain": TEMP, "wordpress": {"title": "Temporary"}}


def serves(host, name, scheme="http"):
    return host.run(f"curl -sk -o /dev/null -w '%{{http_code}}' --resolve {name}:443:127.0.0.1 {scheme}://{name}/")


def test_removing_one_site_backs_it_up_first_and_leaves_a_valid_server(host, ansible_playbook):
    sites = inventory_sites()
    ansible_playbook(SITES_PLAYBOOK, "-e", f"site={TEMP}", extra_vars={"wpzo_sites": [*sites, TEMP_SITE]})
    assert host.run(f"curl -s -H 'Host: {TEMP}' http://127.0.0.1/").stdout.count("<title>Temporary") == 1
    host.run(f"runuser -u temp_example_test -- sh -c 'echo keep-me > /srv/www/{TEMP}/public/keep.txt'")
    removed = [*sites, dict(TEMP_SITE, state="absent")]

    # No room for the final backup (a 1 MiB file system; WordPress alone is ~60 MiB): nothing is removed.
    host.check_output("mkdir -p /mnt/tiny && mount -t tmpfs -o size=1m tmpfs /mnt/tiny")
    try:
        refused = ansible_playbook(
            SITES_PLAYBOOK, "-e", f"site={TEMP}", "-e", "sites_removal_backup_dir=/mnt/tiny",
            extra_vars={"wpzo_sites": removed}, succeed=False,
        )  # fmt: skip
    finally:
        host.run("umount /mnt/tiny")
    assert refused.returncode != 0
    assert "nothing was removed" in refused.said
    assert host.user("temp_example_test").exists
    assert host.file(f"/srv/www/{TEMP}/public/keep.txt").exists
    assert host.file(f"/etc/nginx/wpzo/sites/{TEMP}.conf").exists

    ansible_playbook(SITES_PLAYBOOK, "-e", f"site={TEMP}", extra_vars={"wpzo_sites": removed})
    archives = host.check_output(f"ls /var/lib/wpzo/removed | grep '^{TEMP}-.*-files.tar.gz$' || true").split()
    assert len(archives) == 1
    assert host.check_output(f"tar -xzOf /var/lib/wpzo/removed/{archives[0]} {TEMP}/public/keep.txt") == "keep-me"
    assert not host.file("/etc/php/8.2/fpm/pool.d/temp_example_test.conf").exists
    assert not host.file(f"/etc/nginx/wpzo/sites/{TEMP}.conf").exists
    assert not host.user("temp_example_test").exists
    assert not host.file(f"/srv/www/{TEMP}").exists
    # What every later change is tested against still passes; the other sites serve as before.
    assert host.run("nginx -t").rc == 0
    assert host.run("php-fpm8.2 -t").rc == 0
    assert serves(host, BLOG, "https").stdout == "200"
