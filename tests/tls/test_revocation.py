"""tls.revocation: the leaf's OCSP responder, CRL and AIA issuer, asked online through the gate.

The responder is a real HTTP server on loopback answering real OCSP requests
with responses built and signed by ``cryptography``, and serving a signed CRL
and the issuing CA's certificate. The TLS server (Python's ``ssl``, OpenSSL)
serves the leaf alone, so its issuer must come from AIA caIssuers.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from scanner.gate import Gate
from scanner.inventory import Scope
from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import CheckRequest, Context
from scanner.plugins.tls import plugin, revocation

pytestmark = pytest.mark.integration
HOSTNAME = "tls.lab.test"
NOW = dt.datetime.now(dt.UTC)
_NET = f"127.66.{201 + __import__('os').getpid() % 50}"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(subject: str, key: Any, issuer: tuple[x509.Name, Any] | None = None) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (_name(subject), key)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


@dataclass
class Pki:
    root: Path
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    leaves: dict[str, tuple[Path, Path, x509.Certificate]]


def make_pki(directory: Path, responder: str) -> Pki:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _ca("civiscan revocation root", root_key)
    int_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _ca("civiscan revocation intermediate", int_key, (root.subject, root_key))
    (directory / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    leaves = {}
    for label in ("good", "revoked", "silent"):
        base = responder if label != "silent" else f"http://{_NET}.99:9"
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder().subject_name(_name(HOSTNAME)).issuer_name(intermediate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=20))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTNAME)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(f"{base}/ocsp")),
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                       x509.UniformResourceIdentifier(f"{base}/issuer.der")),
            ]), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(f"{base}/ca.crl")], None, None, None)]),
                critical=False)
            .sign(int_key, hashes.SHA256()))
        cert_path, key_path = directory / f"{label}.pem", directory / f"{label}.key"
        cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        leaves[label] = (cert_path, key_path, leaf)
    return Pki(directory / "root.pem", intermediate, int_key, leaves)


class Responder:
    """OCSP responder, CRL and caIssuers server of the intermediate CA, counting its requests."""

    def __init__(self, address: str) -> None:
        self.requests: list[str] = []
        self.revoked: set[int] = set()
        self.padding = 0  # more revoked serials in the CRL, to make it large
        self.pki: Pki | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                status, body = owner.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[int, bytes]:
        assert self.pki is not None
        pki = self.pki
        if path == "/issuer.der":
            return 200, pki.intermediate.public_bytes(serialization.Encoding.DER)
        if path == "/ca.crl":
            builder = (x509.CertificateRevocationListBuilder().issuer_name(pki.intermediate.subject)
                       .last_update(NOW - dt.timedelta(hours=1))
                       .next_update(NOW + dt.timedelta(days=2)))
            for serial in [*self.revoked, *range(10**6, 10**6 + self.padding)]:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(serial)
                    .revocation_date(NOW - dt.timedelta(days=1))
                    .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                    .build())
            return 200, builder.sign(pki.intermediate_key, hashes.SHA256()).public_bytes(
                serialization.Encoding.DER)
        if path.startswith("/ocsp/"):
            request = ocsp.load_der_ocsp_request(base64.b64decode(unquote(path[len("/ocsp/"):])))
            leaf = next(c for _, _, c in pki.leaves.values()
                        if c.serial_number == request.serial_number)
            revoked = leaf.serial_number in self.revoked
            response = ocsp.OCSPResponseBuilder().add_response(
                cert=leaf, issuer=pki.intermediate, algorithm=hashes.SHA1(),
                cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
                this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=2),
                revocation_time=NOW - dt.timedelta(days=1) if revoked else None,
                revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
            ).responder_id(ocsp.OCSPResponderEncoding.NAME, pki.intermediate).sign(
                pki.intermediate_key, hashes.SHA256())
            return 200, response.public_bytes(serialization.Encoding.DER)
        return 404, b""

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def responder() -> Iterator[Responder]:
    server = Responder(f"{_NET}.10")
    yield server
    server.close()


@pytest.fixture(scope="module")
def rpki(tmp_path_factory: pytest.TempPathFactory, responder: Responder) -> Pki:
    pki = make_pki(tmp_path_factory.mktemp("revocation"), responder.url)
    responder.pki = pki
    responder.revoked = {pki.leaves["revoked"][2].serial_number}
    return pki


def options(**given: Any) -> dict[str, Any]:
    check = {c.id: c for c in plugin.checks}["tls.revocation"]
    validated, problems = validate_options(check.options, given, check.id)
    assert problems == []
    return validated


def scan(rpki: Pki, serve: Any, lab: Any, label: str, gate: Gate | None = None,
         address: str = f"{_NET}.20", **given: Any) -> tuple[dict[str, Any], Any]:
    import ssl

    cert, key, _ = rpki.leaves[label]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))  # the leaf alone: its issuer comes from AIA
    server = serve(lab.tls_handler(ctx), address)
    asset = Asset(id="t/t", name="t", kind=AssetKind.ENDPOINT, department="t",
                  url=f"https://{HOSTNAME}:{server.port}/", address=server.address)
    opts = options(**({"online": True} | given))
    context = Context(timeout=5.0, settings={"ca_file": str(rpki.root)}, gate=gate)
    facts = asyncio.run(plugin.collect(asset, [CheckRequest("tls.revocation", opts)], context))
    check = {c.id: c for c in plugin.checks}["tls.revocation"]
    return facts, check.evaluate(facts, opts)


def test_a_good_certificate_passes_after_fetching_its_issuer_from_aia(
        rpki: Pki, responder: Responder, serve: Any, lab: Any) -> None:
    facts, outcome = scan(rpki, serve, lab, "good", crl=False)
    assert outcome.status is Status.PASS, outcome.message
    assert outcome.message.startswith(f"The OCSP responder at {responder.url}/ocsp says")
    assert facts["revocation"]["issuer"] == "aia"
    assert facts["revocation"]["ocsp"][0]["response"]["cert_status"] == "good"


def test_a_revoked_certificate_fails_on_the_ocsp_answer(
        rpki: Pki, serve: Any, lab: Any) -> None:
    _, outcome = scan(rpki, serve, lab, "revoked", crl=False)
    assert outcome.status is Status.FAIL
    assert "says the certificate was revoked on" in outcome.message
    assert "(key_compromise)" in outcome.message


def test_a_revoked_certificate_fails_on_the_crl(rpki: Pki, serve: Any, lab: Any) -> None:
    facts, outcome = scan(rpki, serve, lab, "revoked", ocsp=False)
    assert outcome.status is Status.FAIL
    assert outcome.message.startswith("The CRL at ")
    crl = facts["revocation"]["crl"][0]["response"]
    assert (crl["signature_valid"], crl["cert_status"]) == (True, "revoked")


def test_a_crl_larger_than_max_crl_bytes_is_not_read(rpki: Pki, responder: Responder, serve: Any, lab: Any) -> None:
    responder.padding = 200  # ~8 kB of revoked entries
    try:
        facts, outcome = scan(rpki, serve, lab, "revoked", ocsp=False, max_crl_bytes=1024)
        assert outcome.status is Status.ERROR, outcome.message
        (crl,) = facts["revocation"]["crl"]
        assert "larger than 1024 bytes" in str(crl), crl
        _, outcome = scan(rpki, serve, lab, "revoked", ocsp=False, max_crl_bytes=64 * 1024)
        assert outcome.status is Status.FAIL, outcome.message  # the same CRL, read within the limit
    finally:
        responder.padding = 0


def test_an_out_of_scope_responder_is_not_checked_and_never_contacted(
        rpki: Pki, responder: Responder, serve: Any, lab: Any) -> None:
    address = f"{_NET}.21"
    gate = Gate(Scope(networks=(ipaddress.ip_network(f"{address}/32"),)))
    before = len(responder.requests)
    facts, outcome = scan(rpki, serve, lab, "good", gate=gate, address=address)
    assert len(responder.requests) == before  # no connection reached the responder
    assert outcome.status is Status.ERROR
    assert outcome.reason.value == "scope"
    assert "not checked: out of scope" in outcome.message
    assert {a["reason"] for a in facts["revocation"]["aia"]} == {"scope"}


def test_an_unreachable_responder_is_an_error_not_a_pass(rpki: Pki, serve: Any, lab: Any) -> None:
    _, outcome = scan(rpki, serve, lab, "silent")
    assert outcome.status is Status.ERROR


def test_without_online_the_collection_contacts_nothing(
        rpki: Pki, responder: Responder, serve: Any, lab: Any) -> None:
    before = len(responder.requests)
    facts, outcome = scan(rpki, serve, lab, "good", online=False)
    assert len(responder.requests) == before  # neither OCSP, CRL nor the AIA issuer was fetched
    assert facts["revocation"] is None
    assert outcome.status is Status.NOT_APPLICABLE


def test_offline_by_default() -> None:
    check = {c.id: c for c in plugin.checks}["tls.revocation"]
    assert check.evaluate({}, options()).status is Status.NOT_APPLICABLE


def test_the_ocsp_get_url_carries_the_der_request() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ca = _ca("ca", key)
    url = revocation.ocsp_get_url("http://ocsp.example/", ca, ca)
    encoded = url.removeprefix("http://ocsp.example/")
    assert "/" not in encoded and "+" not in encoded
    assert ocsp.load_der_ocsp_request(base64.b64decode(unquote(encoded))).serial_number == \
        ca.serial_number
