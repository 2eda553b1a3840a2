from ansible_collections.wpzo.hosting.plugins.module_utils import site_accounts as accounts

SITE = {
    "user": "a_example",
    "group": "a_example",
    "root": "/srv/www/a.example",
    "shell": "/usr/sbin/nologin",
    "state": "present",
}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1YmJpc2g alice@laptop"
KEYS_FILE = "/etc/ssh/wpzo-sftp/a_example"
WITH_SFTP = dict(SITE, sftp_users=[{"name": "alice", "ssh_keys": [KEY + "  "]}, {"name": "bob", "ssh_keys": [KEY]}])
KEYS = "# alice\n%s\n# bob\n%s\n" % (KEY, KEY)


def converged_state(site):
    users = {site["user"]: (990, 990, site["root"], site["shell"], accounts.account_comment(site))}
    groups = {site["group"]: 990, "www-data": 33}
    members = {site["group"]: {"www-data"}}
    dirs = {d.path: (d.owner, d.group, d.mode) for d in accounts.site_directories(site)}
    dirs["/srv/www"] = ("root", "root", 0o711)
    logs = {"/srv/www/a.example/logs": {}}
    for log in accounts.log_files(site):
        logs["/srv/www/a.example/logs"][log.path.rsplit("/", 1)[1]] = ("file", log.owner, log.group, log.mode, 1)
    return accounts.State(users, groups, members, dirs, {}, logs)


def with_sftp(state, keys=KEYS):
    state.groups["wpzo-sftp"] = 980
    state.members["wpzo-sftp"] = {"a_example"}
    state.keys[KEYS_FILE] = keys
    return state


def kinds(actions):
    return [a.kind for a in actions]


def plan(sites, state):
    return accounts.plan(sites, state, "www-data")


def test_new_site_gets_group_user_membership_and_tree():
    actions = plan([SITE], accounts.State({}, {"www-data": 33}, {}, {}, {}))
    assert kinds(actions) == ["create_dir", "add_group", "add_user", "add_member"] + ["create_dir"] * 6
    assert accounts.summarise(actions) == (["a_example"], [], [])


def test_converged_site_needs_nothing():
    assert plan([SITE], converged_state(SITE)) == []


def test_tree_modes_keep_sites_apart_and_let_the_web_server_read_public_only():
    modes = {d.path.rsplit("/", 1)[-1]: oct(d.mode) for d in accounts.site_directories(SITE)}
    assert modes == {"a.example": "0o710", "public": "0o2750", "logs": "0o750", "tmp": "0o700",
                     "sessions": "0o700", "private": "0o700"}  # fmt: skip


def test_the_site_root_belongs_to_root_so_sshd_can_jail_there_and_php_cannot_plant_ssh_keys():
    owners = {d.path: d.owner for d in accounts.site_directories(SITE)}
    assert owners.pop("/srv/www/a.example") == "root"
    assert owners.pop("/srv/www/a.example/logs") == "root"
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
    assert plan([gone], accounts.State({}, {}, {}, {}, {})) == []


def test_supplementary_groups_are_joined_once():
    site = dict(SITE, groups=["redis-clients"])
    state = converged_state(SITE)
    actions = plan([site], state)
    assert [(a.kind, a.detail) for a in actions] == [("add_member", ("a_example", "redis-clients"))]
    state.members["redis-clients"] = {"a_example"}
    assert plan([site], state) == []


def test_sftp_users_get_their_keys_under_their_names_and_the_site_user_joins_the_jailed_group():
    actions = plan([WITH_SFTP], converged_state(SITE))
    assert [(a.kind, a.detail) for a in actions] == [
        ("add_group", "wpzo-sftp"),
        ("write_sftp_keys", (KEYS_FILE, KEYS)),
        ("add_member", ("a_example", "wpzo-sftp")),
    ]
    assert accounts.describe(actions[2]) == "add_member a_example to wpzo-sftp"
    assert accounts.summarise(actions) == ([], ["a_example"], [])


def test_converged_sftp_needs_nothing_and_changed_keys_are_rewritten():
    assert plan([WITH_SFTP], with_sftp(converged_state(SITE))) == []
    stale = with_sftp(converged_state(SITE), keys="# alice\nssh-ed25519 AAAAold old@key\n")
    assert kinds(plan([WITH_SFTP], stale)) == ["write_sftp_keys"]


def test_a_site_without_sftp_users_any_more_leaves_the_group_and_loses_its_keys():
    actions = plan([SITE], with_sftp(converged_state(SITE)))
    assert [(a.kind, a.detail) for a in actions] == [
        ("remove_member", ("a_example", "wpzo-sftp")),
        ("remove_sftp_keys", KEYS_FILE),
    ]
    assert accounts.describe(actions[0]) == "remove_member a_example from wpzo-sftp"


def test_removing_a_site_removes_its_keys_file_too():
    gone = dict(WITH_SFTP, state="absent")
    assert kinds(plan([gone], with_sftp(converged_state(SITE)))) == ["remove_user", "remove_group", "remove_sftp_keys"]


LOGGED = dict(SITE, log_files=["access.log", "error.log", "php-slow.log"], own_log_files=["php-error.log"])
LOGS = "/srv/www/a.example/logs"


def test_a_site_lists_no_other_site_and_its_logs_are_roots_that_it_reads():
    [parent] = accounts.parent_directories([SITE, dict(SITE, root="/srv/www/b.example")])
    assert parent == accounts.Directory("/srv/www", "root", "root", 0o711)
    logs = {d.path: d for d in accounts.site_directories(SITE)}[LOGS]
    assert (logs.owner, logs.group, logs.mode) == ("root", "a_example", 0o750)
    files = {f.path.rsplit("/", 1)[1]: (f.owner, f.group, oct(f.mode)) for f in accounts.log_files(LOGGED)}
    assert files == {
        "access.log": ("root", "a_example", "0o640"),
        "error.log": ("root", "a_example", "0o640"),
        "php-slow.log": ("root", "a_example", "0o640"),
        "php-error.log": ("a_example", "a_example", "0o640"),
    }


def test_new_site_gets_its_log_files_created_after_its_tree():
    actions = plan([LOGGED], accounts.State({}, {"www-data": 33}, {}, {}, {}))
    assert kinds(actions)[-4:] == ["create_log"] * 4
    assert accounts.describe(actions[-1]) == "create_log %s/php-error.log (a_example:a_example 0640)" % LOGS


def test_converged_logs_need_nothing_also_once_nginx_reopened_them_as_its_user():
    state = converged_state(LOGGED)
    state.logs[LOGS]["access.log"] = ("file", "www-data", "a_example", 0o644, 1)
    state.logs[LOGS]["access.log.2.gz"] = ("file", "root", "a_example", 0o640, 1)
    state.logs[LOGS]["php-error.log.1"] = ("file", "a_example", "a_example", 0o644, 1)
    assert plan([LOGGED], state) == []


def test_the_old_layout_is_taken_over_links_go_and_the_sites_logs_become_roots():
    state = converged_state(LOGGED)
    state.dirs[LOGS] = ("a_example", "a_example", 0o750)
    state.logs[LOGS].update({
        "access.log": ("link", "a_example", "a_example", 0o777, 1),
        "error.log": ("file", "a_example", "a_example", 0o644, 1),
        "php-slow.log": ("file", "root", "a_example", 0o666, 1),
        "shadow.log": ("file", "root", "root", 0o640, 2),
        "sub": ("dir", "a_example", "a_example", 0o755, 2),
        "error.log.1": ("file", "a_example", "a_example", 0o644, 1),
    })  # fmt: skip
    actions = plan([LOGGED], state)
    described = [accounts.describe(a) for a in actions]
    assert described == [
        "fix_dir %s (root:a_example 0750)" % LOGS,
        "remove_log %s/access.log" % LOGS,
        "fix_log %s/error.log (root:a_example 0640)" % LOGS,
        "fix_log %s/error.log.1 (root:a_example 0640)" % LOGS,
        "fix_log %s/php-slow.log (root:a_example 0640)" % LOGS,
        "remove_log %s/shadow.log" % LOGS,
        "remove_log %s/sub" % LOGS,
        "create_log %s/access.log (root:a_example 0640)" % LOGS,
    ]


def test_the_sites_own_error_log_is_given_back_to_it():
    state = converged_state(LOGGED)
    state.logs[LOGS]["php-error.log"] = ("file", "root", "root", 0o600, 1)
    assert [accounts.describe(a) for a in plan([LOGGED], state)] == [
        "fix_log %s/php-error.log (a_example:a_example 0640)" % LOGS
    ]


def test_a_listable_parent_is_fixed():
    state = converged_state(SITE)
    state.dirs["/srv/www"] = ("root", "root", 0o755)
    assert [accounts.describe(a) for a in plan([SITE], state)] == ["fix_dir /srv/www (root:root 0711)"]


def test_accounts_are_marked_and_only_marked_or_legacy_accounts_are_changed_or_removed():
    state = converged_state(SITE)
    assert plan([SITE], state) == []
    # Made before accounts were marked (home in the site root): adopted, the comment added.
    state.users["a_example"] = (990, 990, SITE["root"], SITE["shell"], "")
    assert kinds(plan([SITE], state)) == ["modify_user"]
    assert accounts.problems([SITE], state) == []
    # Someone else's account with the site's name: refused, and never removed.
    state.users["a_example"] = (1001, 1001, "/home/a_example", "/bin/bash", "Alice Example")
    (problem,) = accounts.problems([SITE], state)
    assert "the system user a_example exists and was not made by wpzo.hosting (home /home/a_example" in problem
    gone = dict(SITE, state="absent", remove_files=True)
    assert kinds(plan([gone], state)) == ["remove_tree"]


def test_a_group_with_members_and_no_user_is_not_taken_over():
    state = accounts.State({}, {"a_example": 1200, "www-data": 33}, {"a_example": {"alice"}}, {}, {})
    (problem,) = accounts.problems([SITE], state)
    assert "the group a_example exists with members (alice) and no user a_example" in problem
    # A group a killed run made (no members yet): the next run goes on.
    state.members["a_example"] = set()
    assert accounts.problems([SITE], state) == []


# --- what the argument spec cannot check ---------------------------------------------------------------------
def spec_site(**overrides):
    """A site as the module's argument spec hands it over: every option present."""
    site = dict(SITE, group=None, groups=[], remove_files=False, log_files=[], own_log_files=[], sftp_users=[])
    site.update(overrides)
    return site


def test_normalise_sites_defaults_the_group_to_the_user():
    sites, errors = accounts.normalise_sites([spec_site(), spec_site(user="b_example", group="web")])
    assert errors == []
    assert [site["group"] for site in sites] == ["a_example", "web"]


def test_normalise_sites_reports_every_root_and_log_name_problem():
    _sites, errors = accounts.normalise_sites(
        [spec_site(root="/srv"), spec_site(user="b", log_files=["ok.log", "../x"], own_log_files=[".."])]
    )
    assert errors == [
        "site a_example: root '/srv' must be a directory below / such as /srv/www/<domain>",
        "site b: log file '../x' must be a plain file name",
        "site b: log file '..' must be a plain file name",
    ]
