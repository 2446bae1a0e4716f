"""Pure readers of the web family on data: pages, sites, exposure signatures, security.txt."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scanner.plugins.web.checks import parse_permissions_policy
from scanner.plugins.web.client import dechunk
from scanner.plugins.web.exposure import PROBES, judge_probe, parse_security_txt
from scanner.plugins.web.page import parse_page
from scanner.plugins.web.sites import site_of
from scanner.plugins.web.trackers import TrackerDomain, bundled_index, parse_radar

PAGE = "https://www.city.test/dept/index.html"


def kinds(html: str) -> list[tuple[str, str]]:
    return [(r["kind"], r["url"]) for r in parse_page(html.encode(), PAGE)["resources"]]


@pytest.mark.parametrize(("html", "expected"), [
    ('<script src="/a.js"></script>', [("script", "https://www.city.test/a.js")]),
    ('<link rel="stylesheet" href="//cdn.test/s.css">', [("style", "https://cdn.test/s.css")]),
    ('<link rel="preload" as="font" href="f.woff2">', [("font", "https://www.city.test/dept/f.woff2")]),
    ('<link rel="preconnect" href="https://fonts.test">', [("connect", "https://fonts.test")]),
    ('<img srcset="a.png 1x, https://img.test/b.png 2x">',
     [("image", "https://www.city.test/dept/a.png"), ("image", "https://img.test/b.png")]),
    ('<iframe src="https://video.test/e"></iframe>', [("frame", "https://video.test/e")]),
    ('<object data="https://x.test/o.swf"></object>', [("object", "https://x.test/o.swf")]),
    ('<script src="data:text/javascript,1"></script><img src="javascript:1">', []),
    ('<base href="https://other.test/"><script src="a.js"></script>',
     [("script", "https://other.test/a.js")]),
    ('<p><script src=/unclosed.js>', [("script", "https://www.city.test/unclosed.js")]),
], ids=["script", "scheme-relative-style", "preload-font", "preconnect", "srcset", "iframe",
        "object", "non-http-skipped", "base-href", "broken-markup"])
def test_page_resources(html, expected) -> None:
    assert kinds(html) == expected


def test_integrity_must_be_a_hash_expression() -> None:
    html = ('<script src="https://a.test/1.js" integrity="sha384-abc+/="></script>'
            '<script src="https://a.test/2.js" integrity="md5-abc"></script>')
    assert [r["integrity"] for r in parse_page(html.encode(), PAGE)["resources"]] == [True, False]


def test_forms_record_action_method_and_password() -> None:
    html = ('<form action="http://forms.test/a" method="POST"><input type="password"></form>'
            '<form><input name=q></form>')
    forms = parse_page(html.encode(), PAGE)["forms"]
    assert [(f["action"], f["scheme"], f["site"], f["method"], f["password"]) for f in forms] == [
        ("http://forms.test/a", "http", "forms.test", "post", True),
        (PAGE, "https", "city.test", "get", False),
    ]


def test_meta_policies_are_read() -> None:
    html = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
            '<meta name="referrer" content="No-Referrer">')
    page = parse_page(html.encode(), PAGE)
    assert page["meta_csp"] == ["default-src 'none'"]
    assert page["meta_referrer"] == "no-referrer"


def test_resources_past_the_cap_are_counted_not_kept() -> None:
    html = "".join(f'<img src="/{i}.png">' for i in range(600))
    page = parse_page(html.encode(), PAGE)
    assert (len(page["resources"]), page["resources_dropped"]) == (500, 100)


@pytest.mark.parametrize(("host", "site"), [
    ("www.city.gov.uk", "city.gov.uk"),
    ("pages.github.io", "pages.github.io"),
    ("a.b.city.test", "city.test"),
    ("127.0.0.1", "127.0.0.1"),
    ("localhost", "localhost"),
    ("WWW.City.Example.", "city.example"),
], ids=["public-suffix", "private-suffix", "unknown-tld", "ip", "single-label", "case-dot"])
def test_site_of(host, site) -> None:
    assert site_of(host) == site


def test_the_public_suffix_list_is_read_without_any_network() -> None:
    code = (
        "import sys\n"
        "def hook(event, args):\n"
        "    if event.startswith(('socket.', 'urllib.')):\n"
        "        raise SystemExit('network: ' + event)\n"
        "sys.addaudithook(hook)\n"
        "from scanner.plugins.web.sites import site_of\n"
        "from scanner.plugins.web.trackers import bundled_index\n"
        "assert site_of('www.city.gov.uk') == 'city.gov.uk'\n"
        "assert bundled_index().lookup('www.google-analytics.com')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout


def test_trackers_match_the_host_or_a_parent_domain() -> None:
    index = bundled_index()
    assert index.lookup("stats.g.doubleclick.net") == {
        "name": "Google", "domain": "doubleclick.net", "category": "advertising",
        "purposes": ["advertising"]}
    assert index.lookup("doubleclick.net.city.test") is None
    assert index.lookup("static.hotjar.com")["category"] == "session recording"
    assert index.origin == {"list": "bundled sample", "feeds": ["tracker-radar sample"],
                            "domains": 5}


def test_a_malformed_tracker_entry_is_skipped_not_trusted() -> None:
    document = {"trackers": {"a": {"domain": "x.test", "owner": {"name": "X Inc."},
                                   "categories": ["Analytics", 3]},
                             "b": {"domain": "y.test", "owner": "not a mapping"},
                             "c": "junk", "d": {"domain": "bad host", "owner": {}}}}
    assert parse_radar(document) == [TrackerDomain("x.test", "X Inc.", ("Analytics",), None)]


def test_a_domain_without_a_tracking_category_is_not_a_tracker() -> None:
    from scanner.plugins.web.trackers import TrackerIndex

    index = TrackerIndex([TrackerDomain("cdn.test", "CDN Co", ("CDN",))], {})
    assert index.lookup("www.cdn.test") is None


def _probe(name: str):
    return next(p for p in PROBES if p.name == name)


@pytest.mark.parametrize(("name", "body", "exposed"), [
    ("git", b"ref: refs/heads/main\n", True),
    ("git", b"4b825dc642cb6eb9a060e54bf8d69288fbee4904\n", True),
    ("git", b"<html><body>Welcome</body></html>", False),
    ("env", b"# x\nAPP_KEY=base64:abc\nDEBUG=false\n", True),
    ("env", b"<!doctype html><p>A=B</p>", False),
    ("env", b"Hello, this is a page.\nNothing = here\nmore text\n", False),
    ("svn", b"12\n", True),
    ("svn", b"<html>12</html>", False),
    ("server_status", b"<html><h1>Apache Server Status for city</h1>", True),
    ("server_status", b"Active connections: 3 \nserver accepts handled requests\n", True),
    ("phpinfo", b"<html><head><title>phpinfo()</title>", True),
    ("backup_zip", b"PK\x03\x04rest", True),
    ("backup_zip", b"<html>PK</html>", False),
    ("backup_tgz", b"\x1f\x8b\x08rest", True),
    ("sql_dump", b"-- MySQL dump 10.13\nCREATE TABLE x (id int);\n", True),
    ("sql_dump", b"<html>CREATE TABLE</html>", False),
    ("listing", b"<html><head><title>Index of /uploads/</title>", True),
], ids=lambda v: v if isinstance(v, str) else None)
def test_probe_signatures(name, body, exposed) -> None:
    assert judge_probe(_probe(name), 200, body)["exposed"] is exposed


def test_a_signature_on_an_error_status_is_not_an_exposure() -> None:
    assert judge_probe(_probe("git"), 404, b"ref: refs/heads/main\n")["exposed"] is False


def test_env_evidence_never_holds_a_value() -> None:
    facts = judge_probe(_probe("env"), 200, b"SECRET_KEY=very-secret\n")
    assert facts["first_line"] == "SECRET_KEY=[redacted]"


VALID_TXT = "Contact: mailto:security@city.test\nExpires: 2030-01-01T00:00:00Z\n"


def test_a_valid_security_txt() -> None:
    parsed = parse_security_txt("# comment\n" + VALID_TXT + "Policy: https://city.test/vdp\n")
    assert parsed == {"contact": ["mailto:security@city.test"], "canonical": [], "signed": False,
                      "expires": "2030-01-01T00:00:00+00:00",
                      "fields": ["contact", "expires", "policy"], "problems": []}


@pytest.mark.parametrize(("text", "problem"), [
    ("Expires: 2030-01-01T00:00:00Z\n", "no Contact field"),
    ("Contact: mailto:a@b.test\n", "Expires must appear exactly once"),
    (VALID_TXT + "Expires: 2031-01-01T00:00:00Z\n", "Expires must appear exactly once"),
    ("Contact: mailto:a@b.test\nExpires: 2030-01-01\n", "is not an RFC 3339 date-time"),
    ("Contact: mailto:a@b.test\nExpires: 2030-01-01T00:00:00\n", "is not an RFC 3339 date-time"),
    (VALID_TXT + "this is not a field\n", "line 3 is not a 'Field: value' line"),
    ("Contact: security@city.test\nExpires: 2030-01-01T00:00:00Z\n", "is not a mailto:, https:"),
    ("Contact: http://city.test/report\nExpires: 2030-01-01T00:00:00Z\n", "is not a mailto:, https:"),
], ids=["no-contact", "no-expires", "two-expires", "date-only", "no-offset", "junk-line",
        "bare-address", "plain-http-contact"])
def test_security_txt_problems(text, problem) -> None:
    assert any(problem in p for p in parse_security_txt(text)["problems"])


def test_a_signed_security_txt_is_read_inside_the_signature() -> None:
    signed = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + VALID_TXT
              + "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n")
    parsed = parse_security_txt(signed)
    assert parsed["problems"] == []
    assert parsed["signed"] is True


@pytest.mark.parametrize(("values", "expected"), [
    (["camera=(), geolocation=(self \"https://maps.test\")"],
     {"camera": [], "geolocation": ["self", "https://maps.test"]}),
    (["microphone=*", "Camera=self"], {"microphone": ["*"], "camera": ["self"]}),
    (["garbage, interest-cohort=()"], {"interest-cohort": []}),
], ids=["lists", "bare-items", "junk-skipped"])
def test_permissions_policy(values, expected) -> None:
    assert parse_permissions_policy(values) == expected


@pytest.mark.parametrize(("data", "expected"), [
    (b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", (b"hello world", False)),
    (b"5\r\nhel", (b"hel", True)),
    (b"zz\r\n", (b"", True)),
], ids=["whole", "cut-short", "bad-size"])
def test_dechunk(data, expected) -> None:
    assert dechunk(data) == expected
