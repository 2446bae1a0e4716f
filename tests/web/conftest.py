"""Fixture sites for the web family, served by a real nginx on 127.0.213.x.

Third-party URLs appear only in the HTML: nothing listens for them, and the
family must never try (the scope gate of every test is loopback or narrower).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.gate import Gate
from scanner.inventory import Scope
from scanner.lab.pki import LabPKI
from scanner.models import Asset, AssetKind
from scanner.plugin import CheckRequest, Context
from tests.conftest import require_tool

STRICT = (
    "add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;\n"
    "add_header Content-Security-Policy \"default-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'\" always;\n"
    "add_header Referrer-Policy same-origin always;\n"
    "add_header Permissions-Policy \"camera=(), microphone=(), geolocation=(self), "
    "browsing-topics=()\" always;\n"
)
SECRET = "hunter2-db-password"

CLEAN_HTML = """<!doctype html><html><head><title>City of Lab</title>
<link rel="stylesheet" href="/site.css"><script src="/app.js"></script></head>
<body><form action="/search" method="get"><input name="q"></form>
<img src="/logo.png"><a href="/about.html">About</a></body></html>"""
LEAKY_HTML = """<!doctype html><html><head><title>Benefits</title>
<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
<script src="https://connect.facebook.net/en_US/fbevents.js"></script>
<script src="https://cdn.jsdelivr.test/npm/lib.js"></script>
<link rel="stylesheet" href="https://cdn.styles.test/a.css"
      integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC">
<script src="http://insecure.test/widget.js"></script>
</head><body>
<img src="http://leaky.city.test/banner.png">
<img src="https://www.facebook.com/tr?id=1&ev=PageView" width="1" height="1">
<form action="http://forms.test/apply" method="post"><input name="ssn"></form>
<form action="/login" method="post"><input type="password" name="pw"></form>
<a href="/about.html">About</a></body></html>"""
ABOUT_HTML = """<!doctype html><html><head><title>About</title></head><body>
<iframe src="https://www.youtube.test/embed/x"></iframe></body></html>"""


@dataclass(frozen=True)
class Site:
    address: str
    name: str
    root: Mapping[str, str | bytes]  # path -> body
    server: str = ""  # extra nginx server-level directives
    locations: str = ""

    @property
    def hostname(self) -> str:
        return f"{self.name}.city.test"


def _security_txt(expires: dt.datetime) -> str:
    return ("# City of Lab\nContact: mailto:security@city.test\n"
            f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\nPreferred-Languages: en\n")


def _signed(text: str) -> str:
    # The armor of a clearsigned file (RFC 4880 7); the signature bytes are not verified.
    return ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + text.replace("\n-", "\n- -")
            + "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCgAdFiEEexample\n=abcd\n"
            "-----END PGP SIGNATURE-----\n")


def sites(now: dt.datetime) -> dict[str, Site]:
    current = _security_txt(now + dt.timedelta(days=90))
    return {
        "clean": Site("127.0.213.1", "clean", {
            "index.html": CLEAN_HTML, "about.html": ABOUT_HTML.replace(
                "https://www.youtube.test/embed/x", "/video.html"),
            ".well-known/security.txt": _security_txt(now + dt.timedelta(days=90)),
        }, server=STRICT),
        "leaky": Site("127.0.213.2", "leaky", {
            "index.html": LEAKY_HTML, "about.html": ABOUT_HTML,
            ".well-known/security.txt": _security_txt(now - dt.timedelta(days=3)),
        }, server="add_header Content-Security-Policy \"script-src 'self' 'unsafe-inline' https:\";\n"
                  "add_header Referrer-Policy unsafe-url;\n"),
        "exposed": Site("127.0.213.3", "exposed", {
            "index.html": CLEAN_HTML,
            ".git/HEAD": "ref: refs/heads/main\n",
            ".env": f"# settings\nDB_USER=city\nDB_PASSWORD={SECRET}\n",
            "uploads/report.pdf": "%PDF-1.4\n",
        }, locations="location /uploads/ { autoindex on; }\n"),
        "soft404": Site("127.0.213.4", "soft404", {"index.html": CLEAN_HTML},
                        locations="location / { try_files $uri /index.html; }\n"),
        "cors-reflect": Site("127.0.213.5", "cors-reflect", {"index.html": CLEAN_HTML},
                             server="add_header Access-Control-Allow-Origin $http_origin;\n"
                                    "add_header Access-Control-Allow-Credentials true;\n"),
        "cors-star": Site("127.0.213.6", "cors-star", {"index.html": CLEAN_HTML},
                          server="add_header Access-Control-Allow-Origin *;\n"
                                 "add_header Access-Control-Allow-Credentials true;\n"),
        "cors-null": Site("127.0.213.7", "cors-null", {"index.html": CLEAN_HTML},
                          server="add_header Access-Control-Allow-Origin $cors_null;\n"),
        "redirects": Site("127.0.213.8", "redirects", {"index.html": CLEAN_HTML},
                          locations="location = /to-clean { return 301 https://clean.city.test:PORT/; }\n"
                                    "location = /away { return 302 https://tracker.test/r?u=1; }\n"
                                    "location = /loop { return 302 /loop; }\n"
                                    "location = /outside { return 302 https://evil.city.test/; }\n"
                                    "location = /plain { return 302 http://redirects.city.test:PLAIN/; }\n"),
        # security.txt variants, on their own range (127.67.0.x).
        "legacy-txt": Site("127.67.0.1", "legacy-txt", {"index.html": CLEAN_HTML,
                                                         "security.txt": current}),
        "canonical-txt": Site("127.67.0.2", "canonical-txt", {
            "index.html": CLEAN_HTML,
            ".well-known/security.txt": current
            + "Canonical: https://www.elsewhere.test/.well-known/security.txt\n"}),
        "signed-txt": Site("127.67.0.3", "signed-txt", {
            "index.html": CLEAN_HTML,
            ".well-known/security.txt": _signed(
                current + "Canonical: https://signed-txt.city.test:PORT/.well-known/security.txt\n")}),
        "far-txt": Site("127.67.0.4", "far-txt", {
            "index.html": CLEAN_HTML,
            ".well-known/security.txt": _security_txt(now + dt.timedelta(days=800))}),
    }


def _files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body)


@dataclass(frozen=True)
class WebLab:
    sites: Mapping[str, Site]
    https_port: int
    plain_port: int
    ca_file: str
    log: Path

    def url(self, name: str, path: str = "/") -> str:
        return f"https://{self.sites[name].hostname}:{self.https_port}{path}"

    def resolve(self) -> dict[str, str]:
        mapping = {f"{s.hostname}:{self.https_port}": s.address for s in self.sites.values()}
        mapping.update({f"{s.hostname}:{self.plain_port}": s.address for s in self.sites.values()})
        return mapping

    def collect(self, name: str, path: str = "/", checks: Sequence[str] = (),
                scope: Scope | None = None, datasets: Any = None,
                **settings: Any) -> dict[str, Any]:
        from scanner.plugins.web import plugin

        asset = Asset(id=f"lab/{name}", name=name, kind=AssetKind.ENDPOINT, department="lab",
                      url=self.url(name, path), address=self.sites[name].address,
                      ca_file=self.ca_file)
        resolve = self.resolve()
        gate = Gate(scope or Scope((ipaddress.ip_network("127.0.213.0/24"),
                                    ipaddress.ip_network("127.67.0.0/16"))), resolve, 5.0)
        ctx = Context(5.0, {"resolve": resolve, **settings}, gate=gate, datasets=datasets)
        requests = [CheckRequest(c, {}) for c in checks]
        return asyncio.run(plugin.collect(asset, requests, ctx))


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=dt.datetime.now(dt.UTC))


@pytest.fixture(scope="session")
def web_lab(tmp_path_factory: pytest.TempPathFactory, nginx_runner, pick_port, lab_pki):
    binary = require_tool("nginx")
    directory = tmp_path_factory.mktemp("web")
    now = dt.datetime.now(dt.UTC)
    pki = lab_pki
    all_sites = sites(now)
    names = [s.hostname for s in all_sites.values()]
    cert = pki.leaf("good-rsa", names[0], extra_names=names[1:])
    addresses = [s.address for s in all_sites.values()]
    https_port = pick_port(addresses)
    plain_port = pick_port(addresses)
    log = directory / "access.log"
    blocks = [
        'log_format civiscan "$host $request_method $request_uri $http_user_agent";\n'
        'map $http_origin $cors_null { "null" "null"; default ""; }\n'
    ]
    listens = []
    # nginx's workers run as an unprivileged user: the sites live in a folder they can read.
    served = Path(tempfile.mkdtemp(prefix="civiscan-web-"))
    served.chmod(0o755)
    for key, site in all_sites.items():
        root = served / key
        _files(root, {k: v.replace("PORT", str(https_port)) if isinstance(v, str) else v
                      for k, v in site.root.items()})
        locations = site.locations.replace("PORT", str(https_port)).replace(
            "PLAIN", str(plain_port))
        blocks.append(f"""
  server {{
    listen {site.address}:{https_port} ssl;
    listen {site.address}:{plain_port};
    server_name {site.hostname};
    ssl_certificate {cert.fullchain};
    ssl_certificate_key {cert.key};
    root {root};
    access_log {log} civiscan;
    {site.server}
    {locations}
  }}""")
        listens += [(site.address, https_port), (site.address, plain_port)]
    try:
        with nginx_runner(binary, directory / "run", "".join(blocks), listens):
            yield WebLab(all_sites, https_port, plain_port, str(pki.ca_bundle), log)
    finally:
        shutil.rmtree(served, ignore_errors=True)


@pytest.fixture(scope="session")
def nginx_runner():
    from tests.http.conftest import run_nginx

    return run_nginx


@pytest.fixture(scope="session")
def pick_port():
    from tests.http.conftest import free_port

    return free_port
