from ansible_collections.wpzo.hosting.plugins.module_utils import site_accounts as accounts

SITE = {
    "user": "a_example",
    "group": "a_example",
    "root": "/srv/www/a.example",
    "shell": "/usr/sbin/nologin",
    "state": "present",
}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1YmJpc2g alice@laptop"
KEYS_DIR = "/etc/ssh/wpzo-sftp"
PUBLIC = "/srv/www/a.example/public"


def converged_state(site):
    users = {site["user"]: (990, 990, site["root"], site["shell"])}
    groups = {site["group"]: 990, "www-data": 33}
    members = {site["group"]: {"www-data"}}
    dirs = {d.path: (d.owner, d.group, d.mode) for d in accounts.site_directories(site)}
    return accounts.State(users, groups, members, dirs, {}, {})


def with_sftp_user(state, name="alice", site=SITE, keys=KEY + "\n"):
    state.users[name] = (1001, 990, site["root"], "/usr/sbin/nologin")
    state.groups.setdefault("wpzo-sftp", 980)
    state.members.setdefault("wpzo-sftp", set()).add(name)
    state.keys["%s/%s" % (KEYS_DIR, name)] = keys
    user = accounts.SftpUser(name, site["user"], site["group"], site["root"], PUBLIC, "", "")
    state.acls.setdefault(PUBLIC, set()).update(accounts.acl_entries(user))
    return state


def kinds(actions):
    return [a.kind for a in actions]


def plan(sites, state):
    actions, errors = accounts.plan(sites, state, "www-data")
    assert errors == []
    return actions


def test_new_site_gets_group_user_membership_and_tree():
    actions = plan([SITE], accounts.State({}, {"www-data": 33}, {}, {}, {}, {}))
    assert kinds(actions) == ["add_group", "add_user", "add_member"] + ["create_dir"] * 6
    assert accounts.summarise(actions) == (["a_example"], [], [])


def test_converged_site_needs_nothing():
    assert plan([SITE], converged_state(SITE)) == []


def test_tree_modes_keep_sites_apart_and_let_the_web_server_read_public_only():
    modes = {d.path.rsplit("/", 1)[-1]: oct(d.mode) for d in accounts.site_directories(SITE)}
    assert modes == {"a.example": "0o710", "public": "0o2750", "logs": "0o750", "tmp": "0o700",
                     "sessions": "0o700", "private": "0o700"}  # fmt: skip


def test_the_site_root_belongs_to_root_so_sshd_can_jail_sftp_users_there():
    owners = {d.path: d.owner for d in accounts.site_directories(SITE)}
    assert owners.pop("/srv/www/a.example") == "root"
    assert set(owners.values()) == {"a_example"}


def test_wrong_mode_or_owner_is_fixed():
    state = converged_state(SITE)
    state.dirs["/srv/www/a.example/private"] = ("a_example", "a_example", 0o755)
    state.dirs["/srv/www/a.example/public"] = ("root", "a_example", 0o2750)
    actions = plan([SITE], state)
    assert [(a.kind, a.detail.path) for a in actions] == [
        ("fix_dir", "/srv/www/a.example/public"),
        ("fix_dir", "/srv/www/a.example/private"),
    ]
    assert accounts.summarise(actions) == ([], ["a_example"], [])


def test_absent_site_removes_tree_user_and_group_only_when_asked():
    gone = dict(SITE, state="absent", remove_files=True)
    assert kinds(plan([gone], converged_state(SITE))) == ["remove_tree", "remove_user", "remove_group"]
    keep_files = dict(SITE, state="absent")
    assert kinds(plan([keep_files], converged_state(SITE))) == ["remove_user", "remove_group"]
    assert plan([gone], accounts.State({}, {}, {}, {}, {}, {})) == []


def test_supplementary_groups_are_joined_once():
    site = dict(SITE, groups=["redis-clients"])
    state = converged_state(SITE)
    actions = plan([site], state)
    assert [(a.kind, a.detail) for a in actions] == [("add_member", ("a_example", "redis-clients"))]
    state.members["redis-clients"] = {"a_example"}
    assert plan([site], state) == []


def test_a_new_sftp_user_gets_the_group_an_account_keys_and_write_access_to_public():
    site = dict(SITE, sftp_users=[{"name": "alice", "ssh_keys": [KEY + "  "]}])
    actions = plan([site], converged_state(SITE))
    assert [(a.kind, getattr(a.detail, "name", a.detail)) for a in actions] == [
        ("add_group", "wpzo-sftp"),
        ("add_sftp_user", "alice"),
        ("write_sftp_keys", "alice"),
        ("grant_sftp_acl", "alice"),
    ]
    user = actions[1].detail
    assert (user.group, user.root, user.keys_file, user.keys) == (
        "a_example", "/srv/www/a.example", "/etc/ssh/wpzo-sftp/alice", KEY + "\n")  # fmt: skip
    assert accounts.summarise(actions) == ([], ["a_example"], [])


def test_the_acl_lets_sftp_user_and_php_write_while_the_web_server_only_reads():
    user = accounts.SftpUser("alice", "a_example", "a_example", "/srv/www/a.example", PUBLIC, "", "")
    grant = accounts.acl_grant(user).split(",")
    assert {"u:alice:rwX", "d:u:alice:rwX", "d:u:a_example:rwX"} <= set(grant)
    assert {"g::r-X", "m::rwX", "d:g::r-X", "d:o::---"} <= set(grant)


def test_public_shows_the_acl_mask_as_group_write_without_being_fixed_back():
    site = dict(SITE, sftp_users=[{"name": "alice", "ssh_keys": [KEY]}])
    state = with_sftp_user(converged_state(SITE))
    state.dirs[PUBLIC] = ("a_example", "a_example", 0o2770)
    assert plan([site], state) == []
    state.acls[PUBLIC].discard("mask::rwx")  # someone ran chmod g-w: the named entries lost write
    assert kinds(plan([site], state)) == ["grant_sftp_acl"]


def test_converged_sftp_user_needs_nothing_and_changed_keys_are_rewritten():
    site = dict(SITE, sftp_users=[{"name": "alice", "ssh_keys": [KEY]}])
    assert plan([site], with_sftp_user(converged_state(SITE))) == []
    stale = with_sftp_user(converged_state(SITE), keys="ssh-ed25519 AAAAold old@key\n")
    assert kinds(plan([site], stale)) == ["write_sftp_keys"]


def test_an_sftp_user_no_longer_listed_loses_access_then_the_account():
    actions = plan([SITE], with_sftp_user(converged_state(SITE)))
    assert [(a.kind, a.detail.name) for a in actions] == [("revoke_sftp_acl", "alice"), ("remove_sftp_user", "alice")]
    assert actions[1].detail.keys_file == "/etc/ssh/wpzo-sftp/alice"


def test_removing_a_site_removes_its_sftp_users_before_their_primary_group():
    gone = dict(SITE, state="absent", sftp_users=[{"name": "alice", "ssh_keys": [KEY]}])
    kinds_in_order = kinds(plan([gone], with_sftp_user(converged_state(SITE))))
    assert kinds_in_order == ["revoke_sftp_acl", "remove_sftp_user", "remove_user", "remove_group"]


def test_sftp_users_of_another_site_are_left_alone():
    other = dict(SITE, user="b_example", group="b_example", root="/srv/www/b.example")
    state = with_sftp_user(converged_state(SITE))
    state.users["b_example"] = (991, 991, other["root"], other["shell"])
    state.groups["b_example"] = 991
    state.members["b_example"] = {"www-data"}
    state.dirs.update({d.path: (d.owner, d.group, d.mode) for d in accounts.site_directories(other)})
    assert plan([other], state) == []


def test_an_existing_account_is_never_taken_over():
    site = dict(SITE, sftp_users=[{"name": "backup", "ssh_keys": [KEY]}])
    state = converged_state(SITE)
    state.users["backup"] = (34, 34, "/var/backups", "/usr/sbin/nologin")
    actions, errors = accounts.plan([site], state, "www-data")
    assert errors == ["site a_example: sftp[0].name: backup is an existing account, not an SFTP user of this site"]
    assert "add_sftp_user" not in kinds(actions)
