"""A full disk in the middle of a set of renames, for the tests of the file engine and of the modules using it."""

import os


def fail_a_rename(monkeypatch, nth=2):
    """Make the ``nth`` ``os.replace`` fail as a full disk does (ENOSPC); returns the list of targets tried."""
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == nth:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    return calls
