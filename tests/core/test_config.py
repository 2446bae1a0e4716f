"""Command defaults from civiscan.toml and CIVISCAN_* variables: flag > environment > file > default."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from scanner.cli import cli, main


@pytest.fixture
def here(tmp_path, monkeypatch):
    """An empty working directory and an empty XDG config home."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in [n for n in os.environ if n.startswith("CIVISCAN_")]:
        monkeypatch.delenv(name)
    return tmp_path


def first_line(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[0]


def exit_code(*args: str) -> int:
    """The exit code of the real entry point (its error boundary prints to stderr)."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_default_applies_without_file_or_environment(here):
    assert "—" not in first_line("checks")  # the list of checks, not one check's documentation


def test_file_in_the_working_directory_sets_a_default(here):
    (here / "civiscan.toml").write_text('[checks]\ndoc = "ports.allowed"\n')
    assert first_line("checks").startswith("ports.allowed —")


def test_xdg_config_file_applies_when_the_directory_has_none(here):
    (here / "xdg" / "civiscan").mkdir(parents=True)
    (here / "xdg" / "civiscan" / "config.toml").write_text('[checks]\ndoc = "http.hsts"\n')
    assert first_line("checks").startswith("http.hsts —")


def test_working_directory_file_wins_over_the_xdg_one(here):
    (here / "xdg" / "civiscan").mkdir(parents=True)
    (here / "xdg" / "civiscan" / "config.toml").write_text('[checks]\ndoc = "http.hsts"\n')
    (here / "civiscan.toml").write_text('[checks]\ndoc = "ports.allowed"\n')
    assert first_line("checks").startswith("ports.allowed —")


def test_config_flag_names_the_file(here):
    (here / "civiscan.toml").write_text('[checks]\ndoc = "ports.allowed"\n')
    (here / "other.toml").write_text('[checks]\ndoc = "http.hsts"\n')
    assert first_line("--config", "other.toml", "checks").startswith("http.hsts —")


def test_environment_wins_over_the_file(here):
    (here / "civiscan.toml").write_text('[checks]\ndoc = "ports.allowed"\n')
    assert first_line("checks", env={"CIVISCAN_CHECKS_DOC": "http.hsts"}).startswith("http.hsts —")


def test_flag_wins_over_the_environment(here):
    (here / "civiscan.toml").write_text('[checks]\ndoc = "ports.allowed"\n')
    line = first_line("checks", "--doc", "tls.protocols", env={"CIVISCAN_CHECKS_DOC": "http.hsts"})
    assert line.startswith("tls.protocols —")


def test_explicit_envvar_still_names_the_store(here):
    from scanner.store import Store

    Store(here / "explicit.db")
    result = CliRunner().invoke(cli, ["runs"], env={"CIVISCAN_DB": str(here / "explicit.db"),
                                                   "CIVISCAN_RUNS_DB": str(here / "missing" / "x.db")})
    assert result.exit_code == 0
    assert "No runs stored yet." in result.output


def test_scan_takes_its_policies_from_the_file(here, capsys):
    (here / "civiscan.toml").write_text('[scan]\npolicy = ["no-such-policy"]\n')
    code = exit_code("scan", "127.0.0.1")
    assert code == 2
    assert "no shipped policy named 'no-such-policy'" in capsys.readouterr().err


def test_scan_environment_variable_wins_over_the_file(here, capsys, monkeypatch):
    (here / "civiscan.toml").write_text('[scan]\npolicy = ["no-such-policy"]\n')
    monkeypatch.setenv("CIVISCAN_SCAN_POLICIES", "other-missing")
    code = exit_code("scan", "127.0.0.1")
    assert code == 2
    assert "no shipped policy named 'other-missing'" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "expected"), [
    ('[scan]\nfail-on = "bogus"\n', "civiscan.toml:2:1: --fail-on: 'bogus' is not one of"),
    ('[scan]\ntimout = 3\n', "civiscan.toml:2:1: 'scan' has no option --timout (did you mean 'timeout'?)"),
    ('[scan]\nport-scanner = "x"\n', "civiscan.toml:2:1: --port-scanner: 'x' is not one of 'connect', 'nmap'"),
    ('[scan]\ntimeout = 0.001\n', "civiscan.toml:2:1: --timeout: 0.001 is not in the range"),
    ('[scna]\na = 1\n', "civiscan.toml:1:2: unknown command [scna] (did you mean 'scan'?)"),
    ('scan = 1\n', "civiscan.toml:1:1: 'scan' must be a table, [scan]"),
    ('[scan]\nfail-on = \n', "civiscan.toml:2:11: Invalid value"),
    ('[hosts.enrol]\nport = "ssh"\n', "civiscan.toml:2:1: --port: 'ssh' is not a valid integer range"),
], ids=["bad-choice", "unknown-option", "plugin-flag-choice", "out-of-range", "unknown-command",
        "not-a-table", "toml-syntax", "subcommand-type"])
def test_bad_config_is_a_positioned_error_exit_2(here, capsys, text, expected):
    (here / "civiscan.toml").write_text(text)
    code = exit_code("runs")
    assert code == 2
    assert expected in capsys.readouterr().err


def test_missing_config_file_is_an_error(here, capsys):
    code = exit_code("--config", "nowhere.toml", "runs")
    assert code == 2
    assert "nowhere.toml: file not found" in capsys.readouterr().err


def test_no_config_reads_no_file(here):
    (here / "civiscan.toml").write_text("[scan\n")
    assert CliRunner().invoke(cli, ["--no-config", "docs"]).exit_code == 0


def test_docs_list_every_scan_option_with_its_variable():
    from pathlib import Path

    import click

    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    ctx = click.Context(cli)
    scan = cli.get_command(ctx, "scan")
    assert scan is not None
    for param in scan.get_params(click.Context(scan, info_name="scan", parent=ctx)):
        if isinstance(param, click.Option) and param.expose_value and param.name != "help":
            key = max(param.opts, key=len)[2:]
            variable = param.envvar or f"CIVISCAN_SCAN_{str(param.name).upper()}"
            assert f"| `{key}` | `{variable}` |" in text


def scan_params(here, *args: str) -> dict:
    """The parameters ``civiscan scan ARGS`` resolves from flags, environment and ./civiscan.toml."""
    import click

    from scanner.config import load_defaults

    root = click.Context(cli, info_name="civiscan", auto_envvar_prefix="CIVISCAN")
    root.default_map = load_defaults(here / "civiscan.toml", cli, root)
    scan = cli.get_command(root, "scan")
    assert scan is not None
    return scan.make_context("scan", list(args), parent=root).params


@pytest.mark.parametrize(("env", "args", "expected"), [
    ({}, (), 8080),
    ({"CIVISCAN_SCAN_HTTP_REDIRECT_PORT": "8081"}, (), 8081),
    ({"CIVISCAN_SCAN_HTTP_REDIRECT_PORT": "8081"}, ("--http-redirect-port", "8082"), 8082),
], ids=["file", "environment-over-file", "flag-over-environment"])
def test_plugin_setting_http_redirect_port_follows_the_precedence(here, monkeypatch, env, args, expected):
    (here / "civiscan.toml").write_text("[scan]\nhttp-redirect-port = 8080\nssh-config = \"\"\ncommand-timeout = 30\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    params = scan_params(here, *args)
    assert params["http_redirect_port"] == expected
    assert (params["ssh_config"], params["command_timeout"]) == ("", 30.0)
