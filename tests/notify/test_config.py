"""The notifications block and department contacts: every problem at its file:line:col."""

from __future__ import annotations

import pytest

from scanner.errors import ConfigError
from scanner.inventory import load_inventory
from tests.notify.conftest import config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config(text)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  notify_when: sometimes\n", "agent.yaml:2:16: 'notify_when' of 'notifications' must be one of changes, always"),
        ("  retry: {attempts: 0}\n", "agent.yaml:2:21: 'attempts' of 'retry' must be an integer from 1 to 10"),
        ("  digest: daily\n  timezone: Mars/Olympus\n", "agent.yaml:3:13: unknown timezone 'Mars/Olympus'"),
        ("  smtp: {host: mail.city.example, sender: c@city.example, starttls: false}\n", "agent.yaml:2:69: 'starttls: false' is allowed only for a loopback SMTP address"),
        ("  security_office: {webhook: [{url: 'http://hooks.city.example/x', secret_env: S}]}\n", "agent.yaml:2:37: webhook URL 'http://hooks.city.example/x' must use https://"),
        ("  security_office: {webhook: [{url: 'https://hooks.city.example/x'}]}\n", "agent.yaml:2:31: a webhook needs 'secret_env'"),
        ("  security_office: {email: [sec@city.example]}\n", "agent.yaml:2:20: e-mail contacts need an 'smtp' block"),
        ("  report_url_template: 'https://r.city.example/{secret}'\n", "agent.yaml:2:24: 'report_url_template' may use only {department} and {run}"),
        ("  notfy_when: always\n", "agent.yaml:2:3: unknown key 'notfy_when' in 'notifications' (did you mean 'notify_when'?)"),
    ],
    ids=["notify-when", "attempts", "timezone", "clear-smtp", "http-webhook", "no-secret", "mail-without-smtp", "template-field", "typo"],
)
def test_a_bad_notifications_block_is_reported_at_its_position(body, expected):
    found = problems("notifications:\n" + body)
    assert any(p.startswith(expected) for p in found), found


def test_a_valid_block_has_the_documented_defaults():
    cfg = config("notifications: {}\n")
    assert (cfg.notify_when, cfg.waiver_warning_days, cfg.digest, cfg.retry.attempts, cfg.retry.backoff) == (
        "changes", 14, None, 3, (1.0, 4.0)
    )


INVENTORY = """\
scope: {networks: [127.0.0.0/8]}
departments:
  parks:
    title: Parks
    contacts:
      email: [parks-it@city.example, "not an address"]
      webhook:
        - {url: "https://hooks.city.example/parks", secret_env: PARKS_HOOK_SECRET}
        - {url: "https://hooks.city.example/x", secret_env: "$(whoami)"}
    assets:
      - host: 127.0.0.1
"""


def test_department_contacts_are_validated_with_positions(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    with pytest.raises(ConfigError) as info:
        load_inventory(str(path))
    found = [str(p).replace(str(path), "inventory.yaml") for p in info.value.problems]
    assert found == [
        "inventory.yaml:6:38: invalid e-mail address 'not an address'",
        "inventory.yaml:9:61: 'secret_env' of a webhook must name an environment variable, got '$(whoami)'",
    ]


def test_department_contacts_are_read(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY.replace(', "not an address"', "").replace('"$(whoami)"', "X_SECRET"))
    [parks] = load_inventory(str(path)).departments
    assert parks.contacts.email == ("parks-it@city.example",)
    assert [h.secret_env for h in parks.contacts.webhook] == ["PARKS_HOOK_SECRET", "X_SECRET"]
