# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the swap file's plan (wpzo.hosting.swap_file)."""

from ansible_collections.wpzo.hosting.plugins.module_utils import swap_file as swap

PAGE = 4096
FORMATTED = b"\0" * (PAGE - 10) + b"SWAPSPACE2"
SWAPS = "Filename\tType\tSize\tUsed\tPriority\n/swapfile                               file\t65532\t0\t-2\n"


def test_a_prepared_active_swap_file_needs_nothing():
    the_plan = swap.plan("/swapfile", True, 0, 0o600, FORMATTED, PAGE, "/swapfile none swap sw 0 0\n", SWAPS, True)
    assert the_plan == swap.Plan(False, False, False, None, False)


def test_a_missing_file_is_created_formatted_listed_and_turned_on():
    the_plan = swap.plan("/swapfile", False, None, None, b"", PAGE, "# static\n", "Filename\n", True)
    assert the_plan == swap.Plan(True, False, True, "# static\n/swapfile none swap sw 0 0\n", True)


def test_drift_is_corrected_without_reformatting_a_formatted_file():
    the_plan = swap.plan("/swapfile", True, 1000, 0o644, FORMATTED, PAGE, "", "Filename\n", False)
    assert (the_plan.create, the_plan.fix_attributes, the_plan.format, the_plan.activate) == (False, True, False, False)


def test_an_unformatted_or_short_file_is_formatted():
    assert not swap.has_signature(b"\0" * PAGE, PAGE)
    assert not swap.has_signature(FORMATTED[:100], PAGE)
    assert swap.has_signature(b"\0" * (PAGE - 10) + b"SWAP-SPACE", PAGE)


def test_fstab_keeps_one_line_for_the_file_and_leaves_the_others():
    line = "/swapfile none swap sw 0 0"
    assert swap.fstab_text("UUID=1 / ext4 defaults 0 1\n%s\n" % line.replace(" ", "\t"), "/swapfile") is None
    other = "UUID=1 / ext4 defaults 0 1\n/swapfile none swap defaults 0 0\n# /swapfile old\n"
    assert swap.fstab_text(other, "/swapfile") == "UUID=1 / ext4 defaults 0 1\n# /swapfile old\n%s\n" % line
    twice = "%s\n%s\n" % (line, line)
    assert swap.fstab_text(twice, "/swapfile") == line + "\n"
    assert swap.fstab_text("", "/swapfile") == line + "\n"


def test_only_a_listed_path_is_active():
    assert swap.is_active(SWAPS, "/swapfile")
    assert not swap.is_active(SWAPS, "/swap")
    assert not swap.is_active("Filename\tType\n", "/swapfile")
