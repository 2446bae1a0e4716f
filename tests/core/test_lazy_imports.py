"""Heavy libraries are imported by the code that uses them, not by every command.

``civiscan --help``, ``scan --help`` and ``checks`` read no certificate,
parse no HTML, score no CVSS vector and run no nmap, so they import none of
cryptography's X.509 code, selectolax, cvss, python-nmap, jinja2 or
markdown-it; a scan imports only what its checks' collection uses. Each case
runs the real command line in a fresh interpreter and reads ``sys.modules``
at exit (``--version`` imports even less: tests/tls/test_import_cost.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.lab.servers import Lab

NET = f"127.{100 + (os.getpid() + 37) % 100}"

HEAVY = ("cryptography.x509", "selectolax", "cvss", "nmap", "jinja2", "markdown_it")

# Runs the command line, then writes the names of the imported modules to argv[1].
DRIVER = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "civiscan"
from scanner.cli import main
main()
"""


def imported(tmp_path: Path, *args: str, config: bool = False) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules the command imported; ``config``: it reads ./civiscan.toml (else --no-config)."""
    out = tmp_path / "modules.txt"
    env = {**os.environ, "CIVISCAN_DB": str(tmp_path / "s.db")}
    env.pop("CIVISCAN_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(out), *([] if config else ["--no-config"]), *args], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    return set(out.read_text().split()), proc


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in {h.split(".")[0] for h in HEAVY}
                  and any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"], ["checks"]], ids=["help", "scan-help", "checks"])
def test_commands_that_read_nothing_import_no_heavy_library(tmp_path, args):
    modules, proc = imported(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert heavy(modules) == []


def test_help_imports_no_suggestion_temp_file_or_toml_module(tmp_path):
    """difflib, tempfile and tomllib are imported by a misspelling, an inventory import and a config file."""
    modules, proc = imported(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert {"difflib", "tempfile", "tomllib"} & modules == set()


def test_help_still_lists_every_command_with_its_summary(tmp_path):
    modules, proc = imported(tmp_path, "--help")
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[proc.stdout.splitlines().index("Commands:") + 1:]
             if line.strip()}
    for name in ("tls", "feeds", "affected", "demo", "notify", "agent", "worker", "scan"):
        assert name in lines and len(lines[name].split()) > 1, proc.stdout


def test_a_port_scan_imports_no_certificate_html_cvss_or_nmap_code(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text('policy: {id: p, version: "1", title: Ports}\nrules:\n'
                      "  - {id: r, title: No telnet, severity: low, checks: [{check: ports.forbidden, options: {ports: [23]}}]}\n")
    with Lab() as lab:
        lab.tcp(f"{NET}.93.1", 2525, greeting=b"220 hello\r\n")
        modules, proc = imported(tmp_path, "scan", "-p", str(policy), f"{NET}.93.1", "-q", "--timeout", "2")
    assert proc.returncode == 0, proc.stderr
    assert "scanner.plugins.ports.connect" in modules
    assert heavy(modules) == []


def test_a_scan_of_targets_without_a_config_file_imports_no_toml_or_contacts_parser(tmp_path):
    """tomllib reads only a config file found; scanner.notify.contacts only an inventory's departments."""
    modules = _port_scan(tmp_path, f"{NET}.93.2", config=True)  # there is no ./civiscan.toml
    assert "scanner.plugins.ports.connect" in modules
    assert "tomllib" not in modules and "scanner.notify.contacts" not in modules


def test_a_scan_reads_shipped_files_without_importlib_resources(tmp_path):
    """Policies, schemas and suite tables are read from the package folders (scanner.pkgdata)."""
    modules = _port_scan(tmp_path, f"{NET}.93.3")
    assert "scanner.pkgdata" in modules
    assert {"importlib.resources", "tempfile", "shutil"} & modules == set()


def test_a_config_file_and_an_inventory_department_still_get_their_parsers(tmp_path):
    (tmp_path / "civiscan.toml").write_text('[scan]\nfail-on = "high"\n')
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("scope: {networks: [127.0.0.0/8]}\ndepartments:\n  parks:\n"
                         "    contacts: {email: [parks@example.test]}\n    assets: []\n")
    modules, proc = imported(tmp_path, "validate", str(inventory), config=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tomllib" in modules and "scanner.notify.contacts" in modules


def test_each_listed_summary_is_the_loaded_commands_own():
    """What ``--help`` reads from a command's source is what the imported command says."""
    from importlib.metadata import entry_points

    import click

    from scanner.cli import _summary

    read = 0
    for ep in entry_points(group="civiscan.commands"):
        text = _summary(ep.value)
        if text is not None:
            read += 1
            loaded = ep.load()
            assert click.Command(ep.name, help=text).get_short_help_str(60) == loaded.get_short_help_str(60)
            assert text == loaded.help
    assert read >= 6


def test_a_command_whose_source_is_not_plain_is_imported_for_its_summary(tmp_path, monkeypatch):
    from scanner.cli import _summary

    (tmp_path / "odd_cmds.py").write_text(
        "import click\n\n"
        "@click.command(short_help='Short words')\ndef odd():\n    '''Long words.'''\n\n"
        "@click.command()\ndef plain():\n    '''Plain words.\n\n    More.\n    '''\n\n"
        "other = click.Command('other', help='Made, not decorated.')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _summary("odd_cmds:odd") is None
    assert _summary("odd_cmds:other") is None
    assert _summary("odd_cmds:missing") is None
    assert _summary("odd_cmds:plain") == "Plain words.\n\n    More.\n    "


PLUGIN_MODULES = ("scanner.plugins.tls", "scanner.plugins.web", "scanner.plugins.http", "scanner.plugins.packages",
                  "scanner.plugins.ports")


def _plugins_imported(modules: set[str]) -> set[str]:
    return {p for p in PLUGIN_MODULES if p in modules}


def _port_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "p.yaml"
    policy.write_text('policy: {id: p, version: "1", title: Ports}\nrules:\n'
                      "  - {id: r, title: No telnet, severity: low, checks: [{check: ports.forbidden, options: {ports: [23]}}]}\n")
    return policy


def _port_scan(tmp_path: Path, address: str, config: bool = False) -> set[str]:
    """The modules a scan of one port of ``address`` (a lab server there) imported."""
    with Lab() as lab:
        lab.tcp(address, 2525, greeting=b"220 hello\r\n")
        modules, proc = imported(tmp_path, "scan", "-p", str(_port_policy(tmp_path)), address, "-q",
                                 "--timeout", "2", config=config)
    assert proc.returncode == 0, proc.stderr
    return modules


def test_a_scan_imports_only_the_plugins_its_policy_checks_use(tmp_path):
    modules = _port_scan(tmp_path, f"{NET}.94.1")
    assert _plugins_imported(modules) == {"scanner.plugins.ports"}
    assert "importlib.metadata" not in modules  # entry points are read without it


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_a_plugin_flag_given_any_way_still_reaches_the_plugins_settings(tmp_path, how):
    """Plugins are loaded for scan's options when something may set one of their flags."""
    args = ["scan", "-p", str(_port_policy(tmp_path)), f"{NET}.94.2", "-q", "--timeout", "1"]
    env = {}
    if how == "flag":
        args[1:1] = ["--port-scanner", "bogus"]
    elif how == "env":
        env["CIVISCAN_SCAN_PORT_SCANNER"] = "bogus"
    else:
        (tmp_path / "civiscan.toml").write_text('[scan]\nport-scanner = "bogus"\n')
    out = tmp_path / "modules.txt"
    base = {**os.environ, "CIVISCAN_DB": str(tmp_path / "s.db"), **env}
    base.pop("CIVISCAN_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(out), *args], env=base, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bogus" in proc.stderr and "connect" in proc.stderr, proc.stderr  # the declared choices


def test_scan_help_still_lists_the_plugins_flags(tmp_path):
    modules, proc = imported(tmp_path, "scan", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--port-scanner" in proc.stdout and "--web-max-requests" in proc.stdout


def test_entry_points_read_directly_are_importlib_metadatas():
    from importlib import metadata

    from scanner.plugin import COMMANDS_GROUP, ENTRY_POINT_GROUP, entry_points

    for group in (ENTRY_POINT_GROUP, COMMANDS_GROUP, "civiscan.feed_formats"):
        # importlib.metadata lists a distribution found twice on the path twice; the first counts.
        theirs = {}
        for ep in metadata.entry_points(group=group):
            theirs.setdefault((ep.dist.name if ep.dist else "", ep.name), ep.value)
        ours = {(ep.dist, ep.name): ep.value for ep in entry_points(group)}
        assert ours == theirs and ours, group


def test_a_lazy_registry_loads_the_plugin_a_check_names_and_everything_when_asked():
    from scanner.plugin import load_registry

    eager = load_registry()
    lazy = load_registry(lazy=True)
    assert lazy.plugins == {} and set(lazy.pending) == set(eager.plugins)
    assert lazy.check("ports.forbidden") is eager.checks["ports.forbidden"]
    assert set(lazy.plugins) == {"ports"}
    assert lazy.check("ports.no_such_check") is None  # an unknown id needs every plugin to be sure
    assert set(lazy.plugins) == set(eager.plugins) and lazy.pending == {}
    assert sorted(lazy.settings(), key=str) == sorted(eager.settings(), key=str)  # in load order

    skipping = load_registry(["ports"], lazy=True)
    assert skipping.check("ports.forbidden") is None and "ports" not in skipping.plugins
    assert set(load_registry(lazy=True).load_all().checks) == set(eager.checks)
