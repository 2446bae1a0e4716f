"""Inventories: departments, assets, scope, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.inventory import adhoc_assets, load_inventory, parse_scope_args, scope_for_targets
from scanner.models import AssetKind

GOOD = """
scope:
  networks: [127.0.0.0/8, "::1/128"]
  domains: [parks.example]
defaults:
  ssh: {user: audit}
departments:
  parks:
    title: Parks and Recreation
    assets:
      - host: 127.0.10.1
        name: parks-db
        tags: [db]
        ssh: {port: 2222, password_env: PARKS_SSH_PASSWORD}
      - endpoint: https://www.parks.example/
        address: 127.0.10.2
        tags: [web]
      - endpoint: https://[::1]:8443/
"""


def test_good_inventory(write):
    inv = load_inventory(write("inv.yaml", GOOD))
    db, www, v6 = inv.assets
    assert db.id == "parks/parks-db" and db.kind is AssetKind.HOST
    assert db.ssh is not None and (db.ssh.user, db.ssh.port, db.ssh.password_env) == ("audit", 2222, "PARKS_SSH_PASSWORD")
    assert www.id == "parks/www.parks.example" and www.connect_address == "127.0.10.2"
    assert www.hostname == "www.parks.example" and www.port == 443
    assert v6.name == "[::1]:8443" and v6.hostname == "::1"
    assert inv.departments[0].title == "Parks and Recreation"


def problems(write, text):
    with pytest.raises(ConfigError) as info:
        load_inventory(write("inv.yaml", text))
    return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}" for p in info.value.problems]


HEAD = "scope: {networks: [127.0.0.0/8]}\ndepartments:\n  parks:\n    assets:\n"
BAD = {
    "bad-cidr": ("scope: {networks: [127.0.0.300/8]}\ndepartments: {}\n", "inv.yaml:1:20: invalid network '127.0.0.300/8'"),
    "host-bits-set": ("scope: {networks: [127.0.0.1/8]}\ndepartments: {}\n", "inv.yaml:1:20: invalid network '127.0.0.1/8': 127.0.0.1/8 has host bits set"),
    "http-url": (HEAD + "      - endpoint: http://127.0.0.1/\n", "inv.yaml:5:19: endpoint URL 'http://127.0.0.1/' must start with https://"),
    "bad-port-url": (HEAD + "      - endpoint: https://127.0.0.1:99999/\n", "inv.yaml:5:19: invalid URL 'https://127.0.0.1:99999/'"),
    "both-kinds": (HEAD + "      - {host: 127.0.0.1, endpoint: 'https://127.0.0.1/'}\n", "inv.yaml:5:9: an asset needs exactly one of"),
    "unknown-key": (HEAD + "      - {host: 127.0.0.1, tagz: [a]}\n", "inv.yaml:5:27: unknown key 'tagz' in an asset (did you mean 'tags'?)"),
    "secret-in-inventory": (HEAD + "      - {host: 127.0.0.1, ssh: {password: hunter2}}\n", "inv.yaml:5:33: 'password' would put a secret in the inventory"),
    "out-of-scope": (HEAD + "      - host: 10.1.2.3\n", "inv.yaml:5:9: parks/10.1.2.3 is out of scope: 10.1.2.3 is outside the allowed networks (127.0.0.0/8)"),
    "duplicate-asset": (HEAD + "      - host: 127.0.0.1\n      - host: 127.0.0.1\n", "inv.yaml:6:9: duplicate asset 'parks/127.0.0.1'"),
    "bad-department": ("scope: {networks: [127.0.0.0/8]}\ndepartments:\n  Parks Dept: {assets: []}\n", "inv.yaml:3:3: department name 'Parks Dept' must be"),
    "bad-fingerprint": (HEAD + "      - {host: 127.0.0.1, ssh: {host_key_fingerprints: [md5:aa]}}\n", "fingerprint 'md5:aa' must look like SHA256:"),
    "empty-scope": ("scope: {}\ndepartments: {}\n", "inv.yaml:1:8: 'scope' allows nothing"),
    "credentials-in-url": (HEAD + "      - endpoint: https://user:pw@127.0.0.1/\n", "must not carry credentials"),
}


@pytest.mark.parametrize("text,expected", BAD.values(), ids=BAD.keys())
def test_bad_inventory(write, text, expected):
    found = problems(write, text)
    assert any(expected in p for p in found), found


CONTACTS = "scope: {networks: [127.0.0.0/8]}\ndepartments:\n  parks:\n    contacts:\n      %s\n    assets: []\n"
CONTACT_CONTROLS = {
    "bidi-override-in-email": ('email: ["ops\\u202e@city.test"]', "inv.yaml:5:15: 'email' of contacts of 'parks' contains the control character U+202E"),
    "isolate-in-email": ('email: ["ops\\u2066@city.test"]', "inv.yaml:5:15: 'email' of contacts of 'parks' contains the control character U+2066"),
    "escape-in-webhook-url": ('webhook: [{url: "https://127.0.0.1/\\e[2Jh", secret_env: HOOK}]', "inv.yaml:5:23: 'url' of a webhook contains the control character U+001B"),
    "c1-in-webhook-url": ('webhook: [{url: "https://127.0.0.1/\\x85h", secret_env: HOOK}]', "inv.yaml:5:23: 'url' of a webhook contains the control character U+0085"),
    "newline-in-webhook-ca-file": ('webhook: [{url: "https://127.0.0.1/h", secret_env: HOOK, ca_file: "ca\\n.pem"}]', "inv.yaml:5:73: 'ca_file' of a webhook contains the control character U+000A"),
}


@pytest.mark.parametrize(("line", "expected"), CONTACT_CONTROLS.values(), ids=CONTACT_CONTROLS.keys())
def test_control_and_bidi_characters_in_contacts_are_refused_once_at_their_position(write, line, expected):
    found = problems(write, CONTACTS % line)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_plain_contacts_load(write):
    inv = load_inventory(write("inv.yaml", CONTACTS % 'email: ["ops@city.test"]'))
    assert inv.departments[0].contacts.email == ("ops@city.test",)


def test_secret_value_is_not_echoed(write):
    found = problems(write, HEAD + "      - {host: 127.0.0.1, ssh: {password: hunter2}}\n")
    assert not any("hunter2" in p for p in found)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw-s3cret@127.0.0.1/",
        "https://127.0.0.1/login?token=s3cret",
        "https://127.0.0.1/feed?lang=en&api_key=s3cret",
        "https://127.0.0.1/cb#access_token=s3cret",
        "https://127.0.0.1:99999/?token=s3cret",
        "http://127.0.0.1/?password=s3cret",
    ],
)
def test_endpoint_url_with_a_secret_is_refused_without_echoing_it(write, url):
    found = problems(write, HEAD + f"      - endpoint: '{url}'\n")
    assert found and found[0].startswith("inv.yaml:5:19: "), found
    assert not any("s3cret" in p for p in found), found


def test_endpoint_url_with_plain_query_parameters_loads(write):
    inv = load_inventory(write("inv.yaml", HEAD + "      - endpoint: 'https://127.0.0.1/search?q=parks&lang=en'\n"))
    assert inv.assets[0].url == "https://127.0.0.1/search?q=parks&lang=en"


def test_endpoint_name_out_of_domain_scope(write):
    text = "scope: {networks: [127.0.0.0/8], domains: [parks.example]}\ndepartments:\n  parks:\n    assets:\n      - endpoint: https://evil.example/\n        address: 127.0.0.5\n"
    assert any("evil.example is outside the allowed domains" in p for p in problems(write, text))


def test_explicit_address_out_of_network_scope(write):
    text = "scope: {networks: [127.0.0.0/8], domains: [parks.example]}\ndepartments:\n  parks:\n    assets:\n      - endpoint: https://www.parks.example/\n        address: 192.0.2.7\n"
    assert any("reached at 192.0.2.7, outside the allowed networks" in p for p in problems(write, text))


def test_adhoc_targets_and_their_scope():
    assets = adhoc_assets(["127.0.0.1", "https://staging.example.test:8443/", "[::1]"], {"staging.example.test:8443": "127.0.0.9"})
    host, web, v6 = assets
    assert host.kind is AssetKind.HOST and host.address == "127.0.0.1"
    assert web.address == "127.0.0.9" and web.hostname == "staging.example.test"
    assert v6.address == "::1"
    scope = scope_for_targets(assets)
    assert all(scope.refusal(a) is None for a in assets)
    narrow = parse_scope_args(["127.0.0.1/32"])
    assert narrow.refusal(web) is not None


def test_adhoc_garbage_target_is_a_config_error():
    with pytest.raises(ConfigError):
        adhoc_assets(["not a host!"])


def test_validate_lists_every_problem_of_an_inventory_at_once_exit_2(run_cli, write):
    path = write("inv.yaml", HEAD
                 + "      - endpoint: http://127.0.0.1/\n"          # 5: not https
                 + "      - {host: 127.0.0.1, tagz: [a]}\n"         # 6: unknown key
                 + "      - host: 10.1.2.3\n"                       # 7: out of scope
                 + "      - {host: 127.0.0.2, ssh: {password: x}}\n"  # 8: a secret
                 + "  Bad Dept: {assets: []}\n")                    # 9: department name
    proc = run_cli("validate", path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    found = [int(line[len(path) + 1:].split(":")[0]) for line in lines if line.startswith(f"{path}:")]
    assert found == [5, 6, 7, 8, 9], proc.stderr  # the scope too, not only once the rest is fixed
    assert len(lines) == 5, proc.stderr
