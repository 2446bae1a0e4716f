"""`civiscan policies` lists what -p NAME accepts; `civiscan validate NAME` checks a shipped policy."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scanner.cli import cli, main
from scanner.policy import builtin_policy_names


def test_policies_lists_every_shipped_policy_with_version_rules_and_title():
    result = CliRunner().invoke(cli, ["policies"])
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split(None, 3) for line in result.output.splitlines()[1:]}
    assert set(rows) == set(builtin_policy_names())
    assert rows["baseline"][1:3] == ["2", "7"]
    assert rows["baseline"][3] == "City baseline for exposed services and web headers"


def test_policies_counts_the_rules_a_policy_extends():
    from scanner.cli import plugin_registry
    from scanner.policy import load_policies

    result = CliRunner().invoke(cli, ["policies"])
    city = next(line for line in result.output.splitlines() if line.startswith("city-baseline "))
    rules = len(load_policies(["city-baseline"], plugin_registry()).rules)
    assert rules > len(load_policies(["baseline"], plugin_registry()).rules)  # it extends baseline
    assert city.split()[2] == str(rules)


@pytest.mark.parametrize("name", builtin_policy_names())
def test_validate_accepts_a_shipped_name(name):
    result = CliRunner().invoke(cli, ["validate", name])
    assert result.exit_code == 0
    assert result.output.startswith(f"builtin:{name}: ok (policy: ")


def test_validate_suggests_the_shipped_name_for_a_typo(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["validate", "basline"])
    assert stop.value.code == 2
    assert "basline: no shipped policy named 'basline' (did you mean 'baseline'?)" in capsys.readouterr().err
