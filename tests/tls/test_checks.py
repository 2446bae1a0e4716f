"""The tls.protocols, tls.ciphers, tls.key_exchange and tls.server_order checks (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from scanner.models import Status
from scanner.options import validate_options
from scanner.plugins.tls import plugin
from scanner.plugins.tls import suites as S
from tests.conftest import judge

CHECKS = {c.id: c for c in plugin.checks}


def suite(name: str) -> dict[str, Any]:
    found = S.suite_by_name(name)
    assert found is not None
    return dict(found.fact())


def facts(protocols: Mapping[str, bool | None] | None = None,
          ciphers: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    base: dict[str, bool | None] = {p.value: False for p in S.PROTOCOLS}
    base.update(protocols or {"TLSv1.2": True, "TLSv1.3": True})
    listed = ciphers if ciphers is not None else {
        "TLSv1.2": ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"],
        "TLSv1.3": ["TLS_AES_128_GCM_SHA256"],
    }
    out: dict[str, Any] = {
        "protocols": base,
        "ciphers": {p: [suite(n) for n in names] for p, names in listed.items()},
        "ciphers_complete": {p: True for p in listed},
        "server_order": {}, "order": {}, "groups": ["x25519", "secp256r1"],
        "ecdhe_curves": ["x25519", "secp256r1"], "dh_bits": None, "errors": {},
    }
    out.update(extra)
    return out


class TestProtocols:
    @pytest.mark.parametrize(
        ("protocols", "options", "status"),
        [
            ({"TLSv1.2": True, "TLSv1.3": True}, {}, Status.PASS),
            ({"TLSv1.0": True, "TLSv1.2": True}, {}, Status.FAIL),
            ({"SSLv3": True}, {"minimum": "SSLv3"}, Status.PASS),
            ({"TLSv1.2": True, "TLSv1.3": True}, {"allowed": ["TLSv1.3"]}, Status.FAIL),
            ({"TLSv1.3": True}, {"allowed": ["TLSv1.3"]}, Status.PASS),
            ({"TLSv1.0": True}, {"allowed": ["TLSv1", "TLSv1.2"], "minimum": "TLSv1"}, Status.PASS),
            ({"TLSv1.2": True}, {"required": ["TLSv1.3"]}, Status.FAIL),
            ({"TLSv1.2": True, "TLSv1.1": None}, {}, Status.ERROR),
            ({"TLSv1.2": True, "TLSv1.3": None}, {}, Status.PASS),
        ],
        ids=["modern", "tls10-forbidden", "low-minimum", "allow-list", "tls13-only",
             "mozilla-tlsv1-spelling", "required-missing", "forbidden-unknown",
             "allowed-unknown-is-fine"],
    )
    def test_verdicts(self, protocols: dict[str, bool | None], options: dict[str, Any],
                      status: Status) -> None:
        assert judge("tls.protocols", facts(protocols), **options).status is status

    def test_failure_names_the_version(self) -> None:
        outcome = judge("tls.protocols", facts({"TLSv1.0": True, "TLSv1.2": True}))
        assert outcome.message == "The server accepts TLSv1.0, which the policy forbids."
        assert outcome.evidence["forbidden_accepted"] == ["TLSv1.0"]

    def test_error_says_why(self) -> None:
        outcome = judge("tls.protocols", facts({"TLSv1.1": None, "TLSv1.2": True},
                                               errors={"TLSv1.1": "no answer within the timeout"}))
        assert "no answer within the timeout" in outcome.message

    def test_typo_in_a_version_is_a_configuration_error(self) -> None:
        check = CHECKS["tls.protocols"]
        _, problems = validate_options(check.options, {"minimum": "TLS1.2"}, check.id)
        assert problems and "did you mean 'TLSv1.2'" in problems[0].message


class TestCiphers:
    @pytest.mark.parametrize(
        ("ciphers", "options", "status"),
        [
            ({"TLSv1.2": ["ECDHE-RSA-AES128-GCM-SHA256"]}, {"forbid": ["cbc", "rc4"]}, Status.PASS),
            ({"TLSv1.2": ["DES-CBC3-SHA"]}, {"forbid": ["3des"]}, Status.FAIL),
            ({"TLSv1.2": ["AECDH-AES128-SHA"]}, {"forbid": ["anonymous"]}, Status.FAIL),
            ({"TLSv1.2": ["NULL-SHA256"]}, {"forbid": ["null"]}, Status.FAIL),
            ({"TLSv1.2": ["EXP-RC4-MD5"]}, {"forbid": ["export"]}, Status.FAIL),
            ({"TLSv1.2": ["AES128-SHA"]}, {"forbid": ["no_forward_secrecy"]}, Status.FAIL),
            ({"TLSv1.2": ["ECDHE-RSA-AES128-SHA"]}, {"forbid": ["cbc"]}, Status.FAIL),
            ({"TLSv1.2": ["ECDHE-RSA-AES128-GCM-SHA256"]},
             {"allowed": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}, Status.PASS),
            ({"TLSv1.2": ["ECDHE-RSA-AES256-SHA384"]},
             {"allowed": ["ECDHE-RSA-AES128-GCM-SHA256"]}, Status.FAIL),
            ({"TLSv1.2": ["ECDHE-RSA-AES128-GCM-SHA256"]}, {"allowed": []}, Status.FAIL),
            ({"TLSv1.3": ["TLS_AES_128_CCM_8_SHA256"]},
             {"allowed_tls13": ["TLS_AES_128_GCM_SHA256"]}, Status.FAIL),
        ],
        ids=["clean", "3des", "anonymous", "null", "export", "static-rsa", "cbc", "allowed",
             "not-allowed", "nothing-allowed", "tls13-allow-list"],
    )
    def test_verdicts(self, ciphers: dict[str, list[str]], options: dict[str, Any],
                      status: Status) -> None:
        protocols = {p: True for p in ciphers}
        assert judge("tls.ciphers", facts(protocols, ciphers), **options).status is status

    def test_failure_lists_suite_and_reason(self) -> None:
        outcome = judge("tls.ciphers", facts({"TLSv1.2": True}, {"TLSv1.2": ["DES-CBC3-SHA"]}),
                        forbid=["3des"])
        assert outcome.message == ("TLSv1.2 accepts 1 forbidden cipher suite: "
                                   "TLS_RSA_WITH_3DES_EDE_CBC_SHA (3DES).")

    @pytest.mark.parametrize(("dh_bits", "status"), [(1024, Status.FAIL), (2048, Status.PASS),
                                                     (None, Status.ERROR)],
                             ids=["dh1024", "dh2048", "unknown"])
    def test_weak_dh(self, dh_bits: int | None, status: Status) -> None:
        f = facts({"TLSv1.2": True}, {"TLSv1.2": ["DHE-RSA-AES128-GCM-SHA256"]}, dh_bits=dh_bits)
        assert judge("tls.ciphers", f, forbid=["weak_dh"]).status is status

    def test_unknown_list_is_an_error(self) -> None:
        f = facts({"TLSv1.2": True}, {})
        f["ciphers"]["TLSv1.2"] = None
        assert judge("tls.ciphers", f, forbid=["rc4"]).status is Status.ERROR

    def test_incomplete_list_with_a_violation_still_fails(self) -> None:
        f = facts({"TLSv1.2": True}, {"TLSv1.2": ["RC4-SHA"]})
        f["ciphers_complete"]["TLSv1.2"] = False
        assert judge("tls.ciphers", f, forbid=["rc4"]).status is Status.FAIL

    def test_unknown_suite_name_in_the_policy(self) -> None:
        outcome = judge("tls.ciphers", facts(), allowed=["ECDHE-RSA-AES128-GCM-SHA257"])
        assert outcome.status is Status.ERROR and "ECDHE-RSA-AES128-GCM-SHA257" in outcome.message

    def test_sslv2_suites_are_judged(self) -> None:
        f = facts({"SSLv2": True}, {})
        f["ciphers"]["SSLv2"] = [S.ssl2_fact(0x0700C0)]
        assert judge("tls.ciphers", f, allowed=["ECDHE-RSA-AES128-GCM-SHA256"]).status is Status.FAIL


class TestKeyExchange:
    @pytest.mark.parametrize(
        ("extra", "options", "status"),
        [
            ({}, {}, Status.PASS),
            ({"dh_bits": 1024}, {}, Status.FAIL),
            ({"groups": ["x25519", "ffdhe2048"]}, {"min_dh_bits": 3072}, Status.FAIL),
            ({"ecdhe_curves": ["secp224r1"]}, {}, Status.FAIL),
            ({"groups": ["x25519", "x448"]}, {"allowed_groups": ["X25519", "prime256v1"]},
             Status.FAIL),
            ({"groups": ["x25519"], "ecdhe_curves": ["secp256r1"]},
             {"allowed_groups": ["X25519", "prime256v1"]}, Status.PASS),
            ({"groups": None}, {}, Status.ERROR),
        ],
        ids=["clean", "dh1024", "ffdhe2048", "small-curve", "not-allowed", "mozilla-names",
             "unknown"],
    )
    def test_verdicts(self, extra: dict[str, Any], options: dict[str, Any], status: Status) -> None:
        assert judge("tls.key_exchange", facts(**extra), **options).status is status

    def test_groups_of_a_refused_version_are_not_needed(self) -> None:
        f = facts({"TLSv1.2": True}, {"TLSv1.2": ["ECDHE-RSA-AES128-GCM-SHA256"]}, groups=None)
        assert judge("tls.key_exchange", f).status is Status.PASS

    def test_dhe_suites_with_unknown_size(self) -> None:
        f = facts({"TLSv1.2": True}, {"TLSv1.2": ["DHE-RSA-AES128-GCM-SHA256"]})
        assert judge("tls.key_exchange", f).status is Status.ERROR


class TestServerOrder:
    @pytest.mark.parametrize(
        ("order", "options", "status"),
        [
            ({"TLSv1.2": True}, {}, Status.PASS),
            ({"TLSv1.2": False}, {}, Status.FAIL),
            ({"TLSv1.2": False}, {"expect": "client"}, Status.PASS),
            ({"TLSv1.2": True}, {"expect": "client"}, Status.FAIL),
            ({"TLSv1.2": None}, {}, Status.ERROR),
            ({"TLSv1.2": True, "TLSv1.3": False}, {}, Status.PASS),
            ({"TLSv1.2": True, "TLSv1.3": False}, {"protocols": ["TLSv1.3"]}, Status.FAIL),
        ],
        ids=["server", "client", "expect-client", "expect-client-fails", "unknown",
             "tls13-ignored-by-default", "tls13-in-scope"],
    )
    def test_verdicts(self, order: dict[str, bool | None], options: dict[str, Any],
                      status: Status) -> None:
        assert judge("tls.server_order", facts(server_order=order), **options).status is status

    def test_single_suite_has_no_order(self) -> None:
        f = facts({"TLSv1.2": True}, {"TLSv1.2": ["ECDHE-RSA-AES128-GCM-SHA256"]},
                  server_order={"TLSv1.2": None})
        assert judge("tls.server_order", f).status is Status.NOT_APPLICABLE


@pytest.mark.parametrize("check_id", sorted(c for c in CHECKS if c in (
    "tls.protocols", "tls.ciphers", "tls.key_exchange", "tls.server_order")))
def test_docstring_has_options_and_examples(check_id: str) -> None:
    doc = CHECKS[check_id].documentation
    assert "Options" in doc and "PASS:" in doc and "FAIL:" in doc


class TestEndpointResolution:
    def asset(self, url: str, address: str | None = None) -> Any:
        from scanner.models import Asset, AssetKind

        return Asset(id="d/x", name="x", kind=AssetKind.ENDPOINT, department="d", url=url,
                     address=address)

    def endpoint(self, asset: Any, resolve: dict[str, str] | None = None) -> Any:
        import asyncio
        import ipaddress

        from scanner.gate import Gate
        from scanner.inventory import Scope
        from scanner.plugins.tls import resolve_endpoint

        scope = Scope((ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/32")))
        return asyncio.run(resolve_endpoint(asset, Gate(scope, resolve)))

    def test_resolve_setting_wins(self) -> None:
        ep = self.endpoint(self.asset("https://www.example.org/", "192.0.2.9"),
                           {"www.example.org:443": "192.0.2.1"})
        assert (ep.address, ep.port, ep.sni) == ("192.0.2.1", 443, "www.example.org")

    def test_asset_address_is_used(self) -> None:
        assert self.endpoint(self.asset("https://a.example:8443/", "192.0.2.9")).address == "192.0.2.9"

    def test_ipv6_literal_has_no_sni(self) -> None:
        ep = self.endpoint(self.asset("https://[2001:db8::1]:444/"))
        assert (ep.address, ep.port, ep.sni) == ("2001:db8::1", 444, None)
