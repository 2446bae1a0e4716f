"""Port ranges in options and evidence read as ports, not nested lists."""

from scanner.reports.evidence import facts, options_text


def test_port_ranges_are_shown_as_ports():
    assert options_text({"ports": [[21, 21], [512, 514]]}) == "ports = 21, 512-514"


def test_other_nested_lists_stay_json():
    assert facts({"pairs": [[1, "a"]]}) == [("pairs", '[[1, "a"]]')]
