"""The scenario has two servers: wpzo-backups (converged, backed up) and wpzo-backups-dr (fresh, for the
disaster-recovery test). testinfra runs every test on every host of the inventory; each test here runs on the host
its module names in TEST_HOST, wpzo-backups when it names none (the DR test reaches the other one itself)."""

DEFAULT_HOST = "wpzo-backups"


def _host(item):
    callspec = getattr(item, "callspec", None)
    host = callspec.params.get("_testinfra_host") if callspec else None
    return host.backend.get_pytest_id() if host is not None else None


def pytest_collection_modifyitems(config, items):
    kept, deselected = [], []
    for item in items:
        wanted = "ansible://" + getattr(item.module, "TEST_HOST", DEFAULT_HOST)
        (kept if _host(item) in (None, wanted) else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
