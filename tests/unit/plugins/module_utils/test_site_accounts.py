from ansible_collections.wpzo.hosting.plugins.module_utils import site_accounts as accounts

SITE = {
    "user": "a_example",
    "group": "a_example",
    "root": "/srv/www/a.example",
    "shell": "/usr/sbin/nologin",
    "state": "present",
}


def converged_state(site):
    users = {site["user"]: (990, 990, site["root"], site["shell"])}
    groups = {site["group"]: 990, "www-data": 33}
    members = {site["group"]: {"www-data"}}
    dirs = {d.path: (d.owner, d.group, d.mode) for d in accounts.site_directories(site)}
    return users, groups, members, dirs


def kinds(actions):
    return [a.kind for a in actions]


def test_new_site_gets_group_user_membership_and_tree():
    actions = accounts.plan([SITE], {}, {"www-data": 33}, {}, {}, "www-data")
    assert kinds(actions) == ["add_group", "add_user", "add_member"] + ["create_dir"] * 6
    assert accounts.summarise(actions) == (["a_example"], [], [])


def test_converged_site_needs_nothing():
    assert accounts.plan([SITE], *converged_state(SITE), "www-data") == []


def test_tree_modes_keep_sites_apart_and_let_the_web_server_read_public_only():
    modes = {d.path.rsplit("/", 1)[-1]: oct(d.mode) for d in accounts.site_directories(SITE)}
    assert modes == {"a.example": "0o710", "public": "0o2750", "logs": "0o750", "tmp": "0o700",
                     "sessions": "0o700", "private": "0o700"}  # fmt: skip


def test_wrong_mode_or_owner_is_fixed():
    users, groups, members, dirs = converged_state(SITE)
    dirs["/srv/www/a.example/private"] = ("a_example", "a_example", 0o755)
    dirs["/srv/www/a.example/public"] = ("root", "a_example", 0o2750)
    actions = accounts.plan([SITE], users, groups, members, dirs, "www-data")
    assert [(a.kind, a.detail.path) for a in actions] == [
        ("fix_dir", "/srv/www/a.example/public"),
        ("fix_dir", "/srv/www/a.example/private"),
    ]
    assert accounts.summarise(actions) == ([], ["a_example"], [])


def test_absent_site_removes_tree_user_and_group_only_when_asked():
    state = converged_state(SITE)
    gone = dict(SITE, state="absent", remove_files=True)
    assert kinds(accounts.plan([gone], *state, "www-data")) == ["remove_tree", "remove_user", "remove_group"]
    keep_files = dict(SITE, state="absent")
    assert kinds(accounts.plan([keep_files], *state, "www-data")) == ["remove_user", "remove_group"]
    assert accounts.plan([gone], {}, {}, {}, {}, "www-data") == []


def test_supplementary_groups_are_joined_once():
    site = dict(SITE, groups=["redis-clients"])
    users, groups, members, dirs = converged_state(SITE)
    actions = accounts.plan([site], users, groups, members, dirs, "www-data")
    assert [(a.kind, a.detail) for a in actions] == [("add_member", ("a_example", "redis-clients"))]
    members["redis-clients"] = {"a_example"}
    assert accounts.plan([site], users, groups, members, dirs, "www-data") == []
