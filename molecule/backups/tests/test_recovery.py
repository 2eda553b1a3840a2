"""Disaster recovery: the whole server rebuilt on a fresh one (wpzo-backups-dr, whose site users have other ids) by
playbooks/site.yml and playbooks/restore-server.yml, first from the sites' own backups, then with MariaDB whole from
the physical backup. Runs last: after test_pitr.py, whose database wpzo_pitr_other only the first server has."""

import os
import time

import pytest
from test_backups import (
    BLOG,
    figure,
    file_hashes,
    page,
    page_showing,
    playbook,
    published_titles,
    row_counts,
    run,
    site_entry,
    snapshots,
    sql,
    tag,
    wordpress_php,
)

DR_SERVER = "wpzo-backups-dr"  # fresh until these tests build it
CONFIRM = ("-e", "confirm=" + DR_SERVER)
OTHER = "wpzo_pitr_other"  # test_pitr.py's second database, in the first server's physical backup only


@pytest.fixture(scope="module")
def dr(host):
    return host.get_host("ansible://" + DR_SERVER, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def owners(host, root):
    """{path: "user:group"} of every entry the backup keeps, by name."""
    listing = run(
        host,
        "cd %s && find public private -path public/wp-content/cache -prune -o -printf '%%p\\t%%u:%%g\\n'" % root,
    ).stdout
    return dict(line.split("\t") for line in listing.splitlines())


def test_a_fresh_server_restored_whole_serves_the_same_sites_owned_by_its_own_users(host, dr):
    """The blog as it is now (a post and an upload of its own) is backed up; a fresh server with the same credential
    store (the inventory name's, shared here) is built by playbooks/site.yml (the empty site, the repositories
    found), then playbooks/restore-server.yml restores every site: the same page, files and owners by name."""
    wordpress_php(host, BLOG, "wp_insert_post(['post_title' => 'Before the disaster', 'post_status' => 'publish']);")
    upload = "/srv/www/%s/public/wp-content/uploads/2026/12/before-the-disaster.jpg" % BLOG
    run(host, "mkdir -p %s && head -c 200000 /dev/urandom > %s" % (os.path.dirname(upload), upload))
    run(host, "wpzo-backup run --site %s" % BLOG)
    # The physical backup of the next test, taken before the DR server's own binary-log timer shares the server
    # repository (here both servers' repositories are one: the lost server would write nothing more).
    started = time.monotonic()
    run(host, "wpzo-backup physical")
    figure("physical backup of the first server", started)
    expected_page = page_showing(host, BLOG, "Before the disaster")
    started = time.monotonic()
    playbook("site.yml", limit=DR_SERVER)
    figure("fresh server built by playbooks/site.yml (every role)", started)
    dr.check_output("systemctl stop 'wpzo-wp-cron-*.timer' 'wpzo-wp-cron-*.service'")
    assert "Before the disaster" not in page(dr, BLOG)  # the empty site
    user = site_entry(host, BLOG)["system_user"]
    assert dr.user(user).uid != host.user(user).uid  # restic alone would give the files another user here
    refused = playbook("restore-server.yml", limit=DR_SERVER, ok=False)
    assert refused.returncode != 0
    assert "name the server to go on (-e confirm=%s)" % DR_SERVER in " ".join((refused.stdout + refused.stderr).split())
    started = time.monotonic()
    output = playbook("restore-server.yml", *CONFIRM, "-e", "safety_backup=false", limit=DR_SERVER)
    figure("whole server (one site) onto the fresh server with playbooks/restore-server.yml", started)
    assert "changed=1" in output and "%s: restored" % BLOG in " ".join(output.split())
    assert page(dr, BLOG) == expected_page
    root = "/srv/www/" + BLOG
    assert file_hashes(dr, root) == file_hashes(host, root)
    assert owners(dr, root) == owners(host, root)
    assert published_titles(dr, "wp_blog_example_test") == published_titles(host, "wp_blog_example_test")
    again = playbook("restore-server.yml", *CONFIRM, "-e", "safety_backup=false", limit=DR_SERVER)
    assert "changed=0" in again and "failed=0" in again


def test_mariadb_restored_whole_from_the_physical_backup_holds_every_database_of_the_lost_server(host, dr):
    """restore-server.yml -e physical=true over the DR server's live sites: they are backed up first, MariaDB's data
    is replaced by the first server's physical backup (taken by the test above; the DR server's own data kept
    aside), the files restored after; the other database of the first server is there with its rows, the blog
    serves the same page. Again: nothing changes."""
    expected_page = page(host, BLOG)
    expected_other = row_counts(host, OTHER)
    assert OTHER not in sql(dr, "mysql", "SHOW DATABASES")
    started = time.monotonic()
    output = playbook("restore-server.yml", *CONFIRM, "-e", "physical=true", limit=DR_SERVER)
    figure("whole server, MariaDB from the physical backup (safety backup, swap, files): restore-server.yml", started)
    assert "changed=2" in output and "MariaDB restored from the physical backup" in " ".join(output.split())
    assert row_counts(dr, OTHER) == expected_other
    assert page(dr, BLOG) == expected_page
    kept = dr.check_output("ls -d /var/lib/mysql.before-*").split()
    assert len(kept) == 1 and dr.file(kept[0] + "/wp_blog_example_test").is_directory
    safety = [s for s in snapshots(host, BLOG) if tag(s, "reason") == "safety" and tag(s, "server") == DR_SERVER]
    assert sorted(tag(s, "part") for s in safety) == ["db", "files"]
    again = playbook("restore-server.yml", *CONFIRM, "-e", "physical=true", limit=DR_SERVER)
    assert "changed=0" in again and "failed=0" in again
