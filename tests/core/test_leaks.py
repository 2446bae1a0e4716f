"""A policy cannot copy local files into the log through error messages."""

from __future__ import annotations

import pytest

HEAD = 'policy: {id: p, version: "1", title: t}\n'
SECRET = "Sup3rSecr3tValue"

# Shaped like /etc/shadow and a dotenv file; the secret is near the start,
# where a message quoting "the first characters" would show it.
NOT_POLICIES = {
    "shadow": f"root:$6${SECRET}$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    "dotenv": f"API_TOKEN={SECRET}\nDB_URL=postgres://u:{SECRET}@db/x\n",
    "tagged": f"!{SECRET} x\n",
    "undefined-alias": f"*{SECRET}\n",
}


@pytest.mark.parametrize("text", NOT_POLICIES.values(), ids=NOT_POLICIES.keys())
def test_file_named_in_extends_is_never_quoted(civiscan_bounded, write, text):
    secret = write(".env", text)
    policy = write("p.yaml", HEAD + f"extends: ['{secret}']\nrules: []\n")
    proc = civiscan_bounded("validate", policy)
    assert proc.returncode == 2, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("text", NOT_POLICIES.values(), ids=NOT_POLICIES.keys())
def test_file_given_as_argument_is_never_quoted(civiscan_bounded, write, text):
    proc = civiscan_bounded("validate", write(".env", text))
    assert proc.returncode == 2, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_not_a_policy_says_so_without_content(civiscan_bounded, write):
    proc = civiscan_bounded("scan", "-p", write("shadow", NOT_POLICIES["shadow"]), "127.0.0.1")
    assert proc.returncode == 2
    assert "shadow:1:1: not a civiscan policy: the top level must be a mapping with 'policy' or 'rules'" in proc.stderr


def test_not_an_inventory_says_so_without_content(civiscan_bounded, write):
    policy = write("p.yaml", HEAD + "rules: [{id: r, title: t, severity: low, checks: [{check: ports.allowed, options: {allowed: [22]}}]}]\n")
    proc = civiscan_bounded("scan", "-p", policy, "-i", write(".env", f"API_TOKEN: {SECRET}\n"))
    assert proc.returncode == 2
    assert ".env:1:1: not a civiscan inventory: the top level must be a mapping with 'scope' or 'departments'" in proc.stderr
    assert SECRET not in proc.stderr


def test_quoted_values_are_short_and_inert(write, registry):
    from scanner.errors import ConfigError
    from scanner.policy import load_policies

    key = "\x1b]0;owned\x07\x1b[2J" + "k" * 100
    text = HEAD + f'"{key.encode("unicode_escape").decode()}": 1\nrules: []\n'
    with pytest.raises(ConfigError) as info:
        load_policies([write("p.yaml", text)], registry)
    (message,) = [p.message for p in info.value.problems if "unknown key" in p.message]
    assert "\x1b" not in message and "\x07" not in message
    assert message.startswith("unknown key '\\x1b]0;owned\\x07\\x1b[2J") and "k" * 30 not in message
