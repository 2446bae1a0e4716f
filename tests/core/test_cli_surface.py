"""The command tree as a user meets it: help on every option, --debug/--verbose everywhere,
shell completion of commands, policy names and check ids, and verify's verdict line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.reports import manifest


def walk(command: click.Command, ctx: click.Context) -> list[tuple[str, click.Command, click.Context]]:
    """Every command of the tree (entry-point commands included) with its context."""
    found = [(ctx.command_path, command, ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += walk(sub, click.Context(sub, info_name=name, parent=ctx))
    return found


TREE = walk(cli, click.Context(cli, info_name="civiscan"))
OPTIONS = [(f"{path} {max(p.opts, key=len)}", p) for path, cmd, ctx in TREE
           for p in cmd.get_params(ctx) if isinstance(p, click.Option)]


def test_the_tree_holds_the_entry_point_commands():
    paths = {path for path, _, _ in TREE}
    assert {"civiscan demo", "civiscan tls", "civiscan feeds", "civiscan scan"} <= paths


@pytest.mark.parametrize("option", [p for _, p in OPTIONS], ids=[name for name, _ in OPTIONS])
def test_every_option_has_help(option):
    assert (option.help or "").strip()


@pytest.mark.parametrize(("path", "command", "ctx"), TREE, ids=[path for path, _, _ in TREE])
def test_every_command_takes_debug_and_verbose(path, command, ctx):
    flags = {opt for p in command.get_params(ctx) for opt in getattr(p, "opts", ())}
    assert {"--debug", "--verbose"} <= flags


@pytest.mark.parametrize("args", [["runs", "--debug"], ["runs", "--verbose"], ["--verbose", "docs"],
                                  ["hosts", "enrol", "--debug", "--help"]],
                         ids=["after-runs-debug", "after-runs-verbose", "before-command", "nested-group"])
def test_debug_and_verbose_are_accepted_before_or_after_the_command(args, tmp_path):
    result = CliRunner().invoke(cli, args, env={"CIVISCAN_DB": str(tmp_path / "s.db")})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_the_shell(shell):
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert "_CIVISCAN_COMPLETE" in result.output


def complete(words: str) -> list[str]:
    env = {**os.environ, "_CIVISCAN_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    done = subprocess.run([sys.executable, "-c", "from scanner.cli import main; main()"], env=env,
                          capture_output=True, text=True, timeout=60)
    return done.stdout.splitlines()


@pytest.mark.parametrize(("words", "expected"), [
    ("civiscan sc", "plain,scan"),
    ("civiscan scan -p city", "plain,city-baseline"),
    ("civiscan validate mozilla-m", "plain,mozilla-modern"),
    ("civiscan evaluate 1 -p patch", "plain,patch-baseline"),
    ("civiscan checks --doc tls.pro", "plain,tls.protocols"),
    ("civiscan docs pol", "plain,policy"),
    ("civiscan report 1 --framework nist", "plain,nist-800-53-r5"),
    ("civiscan report 1 --framework nist", "file,nist"),
    ("civiscan runs -n ", None),
], ids=["command", "scan-policy", "validate-name", "evaluate-policy", "check-id", "docs-topic", "framework-name",
        "framework-file", "nothing-for-a-number"])
def test_completion_offers(words, expected):
    offered = complete(words)
    if expected is None:
        assert all(not line.startswith("plain,") or line == "plain," for line in offered)
    else:
        assert expected in offered


def test_completion_of_a_policy_falls_back_to_files():
    assert "file,pol" in complete("civiscan scan -p pol")


def test_verify_says_ok_when_everything_checks_out(tmp_path):
    (tmp_path / "index.html").write_text("<p>ok</p>")
    manifest.write(tmp_path, [tmp_path / "index.html"], run_id=1, tool_version="0",
                   created=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == f"OK: {tmp_path} matches its manifest"


def test_verify_says_failed_when_a_file_changed(tmp_path):
    (tmp_path / "index.html").write_text("<p>ok</p>")
    manifest.write(tmp_path, [tmp_path / "index.html"], run_id=1, tool_version="0",
                   created=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    (tmp_path / "index.html").write_text("<p>changed</p>")
    result = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"FAILED: {tmp_path} does not match its manifest"


@pytest.mark.parametrize("command", ["scan", "tls"])
def test_ca_file_help_says_it_adds_to_the_system_store(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    text = " ".join(result.output.split())
    assert "added to the system store" in text
    assert "instead of the system store" not in text


@pytest.mark.parametrize(("args", "message", "usage"), [
    (["scan", "--bogus"], "error: No such option '--bogus'", "Usage: civiscan scan [OPTIONS] [TARGETS]..."),
    (["diff"], "error: Missing argument 'RUN_A'.", "Usage: civiscan diff [OPTIONS] RUN_A [RUN_B]"),
    (["scan", "--fail-on", "severe"], "error: Invalid value for '--fail-on'", "Usage: civiscan scan [OPTIONS]"),
    (["nosuch"], "error: No such command 'nosuch'.", "Usage: civiscan [OPTIONS] COMMAND [ARGS]..."),
], ids=["unknown-option", "missing-argument", "bad-choice", "unknown-command"])
def test_usage_errors_read_like_every_other_error_and_exit_2(capsys, args, message, usage):
    from scanner.cli import main

    with pytest.raises(SystemExit) as stop:
        main(args)
    lines = capsys.readouterr().err.splitlines()
    assert stop.value.code == 2
    assert lines[0].startswith(message)
    assert lines[1].startswith(usage)
    assert lines[2].startswith("Try 'civiscan") and lines[2].endswith(" -h' for help.")
    assert not any(line.startswith("Error:") for line in lines)


@pytest.mark.parametrize(("args", "usage"), [
    ([], "Usage: civiscan [OPTIONS] COMMAND [ARGS]..."),
    (["hosts"], "Usage: civiscan hosts [OPTIONS] COMMAND [ARGS]..."),
    (["feeds"], "Usage: civiscan feeds [OPTIONS] COMMAND [ARGS]..."),
], ids=["civiscan-alone", "core-group", "plugin-group"])
def test_a_group_without_a_command_prints_its_help_not_an_error(capsys, args, usage):
    from scanner.cli import main

    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2  # as click: no command given is a usage error
    assert err.splitlines()[0] == usage
    assert "Commands:" in err.splitlines()
    assert "error:" not in err and "\\x0a" not in err


def without_modules(modules: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """civiscan ARGS in a child where importing any of ``modules`` fails, as where they are not installed."""
    code = f"import sys; sys.modules.update(dict.fromkeys({modules!r})); from scanner.cli import main; main()"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVISCAN_")}
    return subprocess.run([sys.executable, "-c", code, "--no-config", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize(("modules", "args", "extra"), [
    (["celery", "kombu", "redis"], ["scan", "--engine", "celery", "--broker", "redis://127.0.0.1:1/0", "-p", "baseline",
                                    "127.0.0.1"], "fleet"),
    (["celery", "kombu", "redis"], ["worker", "--broker", "redis://127.0.0.1:1/0", "--db", "{tmp}/s.db"], "fleet"),
    (["sqlalchemy", "psycopg"], ["runs", "--db", "postgresql://127.0.0.1:1/civiscan"], "postgres"),
], ids=["scan-engine-celery", "worker", "postgres-store"])
def test_a_missing_optional_dependency_names_the_extra_to_install(tmp_path, modules, args, extra):
    done = without_modules(modules, *(arg.format(tmp=tmp_path) for arg in args))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and f"pip install 'civiscan[{extra}]'" in done.stderr
    assert "internal error" not in done.stderr


def test_the_extras_named_are_the_packages_extras():
    from importlib.metadata import metadata

    from scanner.cli import _EXTRAS

    assert set(_EXTRAS.values()) <= set(metadata("civiscan").get_all("Provides-Extra") or ())


@pytest.fixture
def civiscan_logger():
    import logging

    logger = logging.getLogger("civiscan")
    handlers, level = list(logger.handlers), logger.level
    logger.handlers[:] = []  # as a fresh process starts: no handler an earlier in-process run added
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.mark.parametrize(("args", "shown", "hidden"), [
    (["runs", "--verbose"], ["INFO civiscan.probe: informed"], ["debugged"]),
    (["runs", "--debug"], ["INFO civiscan.probe: informed", "DEBUG civiscan.probe: debugged"], []),
    (["runs"], [], ["informed", "debugged"]),
], ids=["verbose-after", "debug-after", "neither"])
def test_verbose_and_debug_after_the_command_show_log_records(capsys, civiscan_logger, tmp_path, args, shown, hidden):
    from scanner.cli import main

    main([*args, "--db", str(tmp_path / "s.db")])
    probe = civiscan_logger.getChild("probe")
    probe.info("informed")
    probe.debug("debugged")
    err = capsys.readouterr().err
    assert all(line in err.splitlines() for line in shown), err
    assert not any(word in err for word in hidden), err



def test_help_points_to_pages_an_installed_civiscan_prints():
    import re

    texts = [(f"{path} {where}", text) for path, cmd, ctx in TREE
             for where, text in [("help", cmd.help or ""), *((max(p.opts, key=len), p.help or "")
                                                           for p in cmd.get_params(ctx) if isinstance(p, click.Option))]]
    named = [f"{where}: {page}" for where, text in texts for page in re.findall(r"docs/[\w.-]+\.md", text)]
    assert not named, "an installed civiscan has no docs/ folder; say 'civiscan docs NAME' instead"
