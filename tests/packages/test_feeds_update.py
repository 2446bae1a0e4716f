"""``civiscan feeds update`` against a real HTTPS server on loopback serving feed files.

The server is Python's http.server behind TLS (a lab CA certificate for the
address): each test states what the server answers, and the server records the
conditional headers it received. Paths: first download, 304, changed, too large
(by Content-Length and by body), refused connection, redirect off the allow-list.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scanner.lab.pki import LabPKI
from scanner.plugins.packages import feeds, update
from scanner.store import Store

ADDRESS = "127.64.0.1"
DATA = Path(__file__).parent / "data"
TRACKER = Path(__file__).resolve().parents[2] / "plugins" / "packages" / "data" / "debian-tracker-sample.json"


@dataclass
class Served:
    """What the server answers for one path, and the requests it saw."""

    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    location: str | None = None
    lie_length: int | None = None
    seen: list[dict[str, str]] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Served]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        served = self.routes.get(self.path)
        if served is None:
            self.send_error(404)
            return
        served.seen.append(dict(self.headers))
        if served.location:
            self.send_response(302)
            self.send_header("Location", served.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        match_tag = served.etag and self.headers.get("If-None-Match") == served.etag
        if match_tag or (not served.etag and served.last_modified and self.headers.get("If-Modified-Since") == served.last_modified):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(served.status)
        if served.etag:
            self.send_header("ETag", served.etag)
        if served.last_modified:
            self.send_header("Last-Modified", served.last_modified)
        self.send_header("Content-Length", str(served.lie_length or len(served.body)))
        self.end_headers()
        self.wfile.write(served.body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Served], Path]]:
    pki = LabPKI(tmp_path_factory.mktemp("pki"), now=dt.datetime.now(dt.UTC))
    leaf = pki.leaf("good-rsa", ADDRESS)
    routes: dict[str, Served] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer((ADDRESS, 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.fullchain, leaf.key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://{ADDRESS}:{httpd.server_address[1]}", routes, pki.ca_bundle
    finally:
        httpd.shutdown()
        httpd.server_close()


def _feeds(store: Store) -> dict[str, feeds.FeedInfo]:
    dataset = store.dataset("advisories")
    assert dataset is not None
    with dataset.read() as conn:
        return {f.name: f for f in feeds.list_feeds(conn)}


def _run(store: Store, specs: list[update.FeedSpec], tmp_path: Path, ca: Path, **kw: object) -> list[update.Outcome]:
    return update.update(store, specs, tmp_path / "dl", ca_file=str(ca), timeout=5, **kw)  # type: ignore[arg-type]


def test_download_then_304_then_changed(server, tmp_path: Path) -> None:
    base, routes, ca = server
    stamp = email.utils.format_datetime(dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC), usegmt=True)
    routes["/tracker/data/json"] = Served(TRACKER.read_bytes(), etag='"v1"', last_modified=stamp)
    spec = update.parse_spec(f"debian={base}/tracker/data/json")
    with Store(tmp_path / "s.db") as store:
        first = _run(store, [spec], tmp_path, ca)
        assert first[0].ok, first[0].line
        assert "updated" in first[0].line
        assert "If-None-Match" not in routes["/tracker/data/json"].seen[-1]
        info = _feeds(store)
        assert info["debian"].kind == "debian-tracker"
        assert info["debian"].feed_date == "2026-11-30T08:00:00+00:00"  # the Last-Modified of an undated feed

        again = _run(store, [spec], tmp_path, ca)
        assert again[0].ok and "unchanged (HTTP 304)" in again[0].line
        sent = routes["/tracker/data/json"].seen[-1]
        assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == stamp

        data = json.loads(TRACKER.read_text())
        data["zlib"] = {"CVE-2026-9999": {"description": "new", "releases": {"bookworm": {"status": "open", "urgency": "high"}}}}
        routes["/tracker/data/json"] = Served(json.dumps(data).encode(), etag='"v2"', last_modified=stamp)
        changed = _run(store, [spec], tmp_path, ca)
        assert changed[0].ok and "updated" in changed[0].line
        with store.dataset("advisories").read() as conn:
            rows = list(conn.execute("SELECT state, urgency FROM feed_affected WHERE package = 'zlib'"))
            etag = conn.execute("SELECT etag FROM feed_fetches WHERE name = 'debian'").fetchone()[0]
        assert rows == [("open", "high")]
        assert etag == '"v2"'


def test_too_large_is_refused_before_and_while_reading(server, tmp_path: Path) -> None:
    base, routes, ca = server
    routes["/big.json"] = Served(b"[" + b" " * 5000 + b"]")
    routes["/liar.json"] = Served(b"[" + b" " * 5000 + b"]", lie_length=100)
    with Store(tmp_path / "s.db") as store:
        big = _run(store, [update.parse_spec(f"big={base}/big.json")], tmp_path, ca, max_bytes=1000)
        assert not big[0].ok and "over the limit of 1,000" in big[0].line
        # A Content-Length that lies low: the body is cut off at the limit all the same.
        liar = _run(store, [update.parse_spec(f"liar={base}/liar.json")], tmp_path, ca, max_bytes=50)
        assert not liar[0].ok and "limit" in liar[0].line
        assert not (tmp_path / "dl" / "big" / "big.json").exists()
        assert _feeds(store) == {}


def test_offline_is_one_clear_line(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind((ADDRESS, 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now: connection refused
    with Store(tmp_path / "s.db") as store:
        out = update.update(store, [update.parse_spec(f"osv=https://{ADDRESS}:{port}/Debian/all.zip")], tmp_path, timeout=5)
    assert not out[0].ok
    assert out[0].line == (
        f"osv: cannot download https://{ADDRESS}:{port}/Debian/all.zip: connection refused "
        "(offline? the imported feed is kept)"
    )


def test_redirect_off_the_allow_list_is_refused(server, tmp_path: Path) -> None:
    base, routes, ca = server
    routes["/moved.json"] = Served(location="https://127.64.0.2:443/elsewhere.json")
    with Store(tmp_path / "s.db") as store:
        out = _run(store, [update.parse_spec(f"moved={base}/moved.json")], tmp_path, ca)
    assert not out[0].ok and "refused" in out[0].line and "127.64.0.2" in out[0].line


def test_untrusted_certificate_is_an_error(server, tmp_path: Path) -> None:
    base, routes, _ca = server
    routes["/tls.json"] = Served(b"[]")
    with Store(tmp_path / "s.db") as store:
        out = update.update(store, [update.parse_spec(f"t={base}/tls.json")], tmp_path, timeout=5)
    assert not out[0].ok and "certificate not trusted" in out[0].line


def test_an_osv_archive_is_imported_under_its_name(server, tmp_path: Path) -> None:
    import io
    import zipfile

    base, routes, ca = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((DATA / "ubuntu-osv").glob("*.json")):
            archive.write(path, path.name)
    routes["/Ubuntu/all.zip"] = Served(buffer.getvalue(), etag='"z1"')
    with Store(tmp_path / "s.db") as store:
        out = _run(store, [update.parse_spec(f"ubuntu={base}/Ubuntu/all.zip")], tmp_path, ca)
        assert out[0].ok, out[0].line
        with store.dataset("advisories").read() as conn:
            assert {r[0] for r in conn.execute("SELECT id FROM feed_advisories WHERE feed = 'ubuntu'")} == {
                "USN-6859-1",
                "UBUNTU-CVE-2024-6387",
            }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("debian", "expected NAME=URL"),
        ("debian=http://security-tracker.debian.org/tracker/data/json", "only https://"),
        ("a b=https://x.test/", "a feed name"),
        ("x=https://user:pw@x.test/", "credentials"),
    ],
)
def test_bad_specs_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        update.parse_spec(text)


def test_conditional_headers_only_for_the_same_url() -> None:
    state = update.FetchState("https://a.test/x", '"e"', "Mon, 30 Nov 2026 08:00:00 GMT")
    assert update.conditional_headers(state, "https://a.test/x") == {
        "If-None-Match": '"e"',
        "If-Modified-Since": "Mon, 30 Nov 2026 08:00:00 GMT",
    }
    assert update.conditional_headers(state, "https://a.test/y") == {}


def test_scope_admits_the_allow_list_only() -> None:
    specs = update.parse_specs(["a=https://a.test/x", "b=https://127.64.0.1/y"])
    assert update.feed_scope(specs[0], specs).domains == ("a.test",)
    assert update.feed_scope(specs[1], specs).domains == ()
    assert [str(n) for n in update.feed_scope(specs[1], specs).networks] == ["127.64.0.1/32"]


def test_the_command_reads_its_feeds_from_civiscan_toml(server, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    base, routes, ca = server
    routes["/eol/debian.json"] = Served((DATA / "endoflife" / "debian.json").read_bytes(), etag='"e1"')
    (tmp_path / "civiscan.toml").write_text(
        f'[feeds.update]\nfeed = ["eol-debian={base}/eol/debian.json"]\nca-file = "{ca}"\ntimeout = 5\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CIVISCAN_DB"] = str(tmp_path / "store.db")
    env["HOME"] = str(tmp_path / "home")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner", "feeds", "update"], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)

    first = run()
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("eol-debian: updated")
    assert (tmp_path / "feeds" / "eol-debian" / "debian.json").is_file()
    second = run()
    assert second.returncode == 0 and second.stdout.strip() == "eol-debian: unchanged (HTTP 304)"


def test_a_bad_feed_in_civiscan_toml_is_reported_at_its_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "civiscan.toml").write_text('[feeds.update]\nfeed = ["debian=http://security-tracker.debian.org/tracker/data/json"]\n')
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CIVISCAN_DB"] = str(tmp_path / "store.db")
    env["HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "scanner", "feeds", "update"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "civiscan.toml:2:1: --feed: http://security-tracker.debian.org/tracker/data/json: only https:// feed URLs are allowed"
    )
