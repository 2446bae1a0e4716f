"""STARTTLS endpoint URLs in the inventory, and the pure parts of the upgrade dialogues."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.inventory import load_inventory
from scanner.plugins.tls import starttls

HEAD = "scope: {networks: [127.0.0.0/8]}\ndepartments:\n  parks:\n    assets:\n"


def load(tmp_path: Path, assets: str) -> list[str] | list[tuple[str, int | None, str | None]]:
    path = tmp_path / "inv.yaml"
    path.write_text(HEAD + assets)
    try:
        inventory = load_inventory(str(path))
    except ConfigError as exc:
        return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}"
                for p in exc.problems]
    return [(a.name, a.port, a.scheme) for a in inventory.assets]


@pytest.mark.parametrize(("url", "name", "port"), [
    ("smtp://127.0.0.1", "127.0.0.1:25", 25),
    ("submission://127.0.0.1", "127.0.0.1:587", 587),
    ("imap://127.0.0.1:1143", "127.0.0.1:1143", 1143),
    ("pop3://127.0.0.1/", "127.0.0.1:110", 110),
    ("ftp://127.0.0.1", "127.0.0.1:21", 21),
    ("ldap://127.0.0.1", "127.0.0.1:389", 389),
    ("postgres://127.0.0.1", "127.0.0.1:5432", 5432),
], ids=["smtp", "submission", "imap-port", "pop3-slash", "ftp", "ldap", "postgres"])
def test_starttls_urls_are_endpoints_with_their_default_ports(
        tmp_path: Path, url: str, name: str, port: int) -> None:
    assert load(tmp_path, f"      - endpoint: {url}\n") == [(name, port, url.split(":")[0])]


@pytest.mark.parametrize(("url", "message"), [
    ("gopher://127.0.0.1/", "inv.yaml:5:19: endpoint URL 'gopher://127.0.0.1/' must start with "
                            "https:// (or one of smtp://, submission://"),
    ("smtp://127.0.0.1/inbox", "inv.yaml:5:19: endpoint URL 'smtp://127.0.0.1/inbox' names a "
                               "server only: a smtp:// URL takes no path"),
    ("ldap://127.0.0.1:0x1", "inv.yaml:5:19: invalid URL"),
], ids=["unknown-scheme", "path", "bad-port"])
def test_bad_starttls_urls_name_their_position(tmp_path: Path, url: str, message: str) -> None:
    found = load(tmp_path, f"      - endpoint: '{url}'\n")
    assert any(str(p).startswith(message) for p in found), found


def test_the_ldap_starttls_request_is_the_rfc_4511_extended_operation() -> None:
    assert starttls.ldap_request().hex() == (
        "301d02010177188016" + b"1.3.6.1.4.1.1466.20037".hex())


@pytest.mark.parametrize(("answer", "code"), [
    (bytes.fromhex("300c02010178070a010004000400"), 0),
    (bytes.fromhex("300c02010178070a013404000400"), 52),  # unavailable
    (bytes.fromhex("300c0201017807"), None),  # more to come
    (bytes.fromhex("30"), None),
], ids=["success", "unavailable", "partial", "one-byte"])
def test_ldap_extended_response_result_codes(answer: bytes, code: int | None) -> None:
    assert starttls.ldap_result(answer) == code


@pytest.mark.parametrize("answer", [
    b"220 mail.example ESMTP\r\n",  # an SMTP server on the LDAP port
    bytes.fromhex("300c020101610701000400040000"),  # a BindResponse, not an ExtendedResponse
], ids=["smtp-banner", "bind-response"])
def test_anything_but_an_extended_response_is_refused(answer: bytes) -> None:
    with pytest.raises(ValueError):
        starttls.ldap_result(answer)
