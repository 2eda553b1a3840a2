"""Bad input stops the whole-server run before anything on the server changes: playbooks/site.yml validates and
normalises the site model in its first task, before any role (base, the tiers) has run."""

from test_sites import inventory_sites

BAD = "bad.example.test"


def test_a_bad_site_stops_the_whole_server_run_before_any_role_changes_the_server(watched_run):
    bad = {"domain": BAD, "kind": "static", "php": {"memry_limit": "256M"}}
    run = watched_run("playbooks/site.yml", extra_vars={"wpzo_sites": [*inventory_sites(), bad]}, succeed=False)
    run.assert_refused_before_any_change(f"site {BAD} (wpzo_sites[6]): php.memry_limit: unknown key")
    # Refused by the site model's step, the play's first task after the facts: no role's task ran.
    assert "wpzo.hosting.base :" not in run.run.stdout, run.run.tail
