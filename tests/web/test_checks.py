"""Verdicts of the web checks on hand-made facts: options and edge cases."""

from __future__ import annotations

import pytest

from scanner.models import Status
from tests.conftest import judge


def page(**extra):
    return {"url": "https://www.city.test/", "content_type": "text/html", "resources": [],
            "forms": [], "meta_csp": [], "meta_referrer": None, "password_field": False,
            "directory_listing": False, **extra}


def res(url: str, kind: str = "script", site: str = "cdn.test", integrity: bool = False):
    return {"kind": kind, "url": url, "scheme": url.split(":")[0], "host": site, "site": site,
            "integrity": integrity}


def facts(**extra):
    base = {"site": "city.test", "https": True, "pages": [page()], "third_parties": [],
            "headers": {}, "hsts": {"max_age": 31536000, "malformed": None},
            "referrer_policy": None, "chain": [], "left_site_to": None}
    return {**base, **extra}


def test_passive_mixed_content_can_be_accepted() -> None:
    f = facts(pages=[page(resources=[res("http://img.test/a.png", "image", "img.test")])])
    assert judge("web.mixed_content", f).status is Status.FAIL
    assert judge("web.mixed_content", f, passive=False).status is Status.PASS


def test_mixed_content_does_not_apply_to_a_plain_http_page() -> None:
    assert judge("web.mixed_content", facts(https=False)).status is Status.NOT_APPLICABLE


def test_sri_passes_on_a_hashed_third_party_script() -> None:
    f = facts(pages=[page(resources=[res("https://cdn.test/a.js", integrity=True)])])
    assert judge("web.subresource_integrity", f).status is Status.PASS


def test_sri_needs_nothing_for_same_site_scripts() -> None:
    f = facts(pages=[page(resources=[res("https://www.city.test/a.js", site="city.test")])])
    assert judge("web.subresource_integrity", f).status is Status.PASS


def test_a_page_that_is_not_html_is_not_applicable() -> None:
    f = facts(pages=[page(content_type="application/json")])
    assert judge("web.third_parties", f).status is Status.NOT_APPLICABLE


def test_allowed_sites_cover_their_subdomains() -> None:
    f = facts(third_parties=[{"site": "pay.vendor.test", "kinds": ["script"], "tracker": None}])
    assert judge("web.third_parties", f, allowed=["vendor.test"]).status is Status.PASS


def test_an_allowed_form_processor_passes() -> None:
    form = {"action": "https://pay.test/x", "scheme": "https", "host": "pay.test",
            "site": "pay.test", "method": "post", "password": False}
    f = facts(pages=[page(forms=[form])])
    assert judge("web.forms", f).status is Status.FAIL
    assert judge("web.forms", f, allowed=["pay.test"]).status is Status.PASS


def test_a_password_field_with_hsts_passes() -> None:
    assert judge("web.forms", facts(pages=[page(password_field=True)])).status is Status.PASS


def test_a_password_field_without_hsts_fails_unless_hsts_is_judged_elsewhere() -> None:
    f = facts(pages=[page(password_field=True)], hsts={"max_age": None, "malformed": None})
    assert judge("web.forms", f).status is Status.FAIL
    assert judge("web.forms", f, hsts=False).status is Status.PASS


@pytest.mark.parametrize(("header", "meta", "status"), [
    ("same-origin", None, Status.PASS),
    (None, "no-referrer", Status.PASS),
    ("unsafe-url", None, Status.FAIL),
    ("no-referrer-when-downgrade", None, Status.FAIL),
    (None, None, Status.FAIL),
], ids=["header", "meta", "unsafe-url", "downgrade", "absent"])
def test_referrer_policy(header, meta, status) -> None:
    f = facts(referrer_policy=header, pages=[page(meta_referrer=meta)])
    assert judge("web.referrer_policy", f).status is status


@pytest.mark.parametrize(("value", "status"), [
    ("camera=(), microphone=(), geolocation=(self), browsing-topics=()", Status.PASS),
    ("camera=(), microphone=(), geolocation=(self), interest-cohort=()", Status.PASS),
    ("camera=(), microphone=(), geolocation=*, browsing-topics=()", Status.FAIL),
    ("camera=()", Status.FAIL),
], ids=["restricted", "floc-name", "geolocation-anyone", "undeclared"])
def test_permissions_policy(value, status) -> None:
    f = facts(headers={"permissions-policy": [value]})
    assert judge("web.permissions_policy", f).status is status


def probe(origin: str, allow: str | None, creds: bool = False):
    return {"origin": origin, "allow_origin": allow, "allow_credentials": creds, "error": None}


def test_a_public_wildcard_passes_unless_refused() -> None:
    f = facts(cors={"arbitrary": probe("https://x.invalid", "*"), "null": probe("null", "*")})
    assert judge("web.cors", f).status is Status.PASS
    assert judge("web.cors", f, allow_wildcard=False).status is Status.FAIL


def test_a_failed_cors_probe_is_an_error_not_a_pass() -> None:
    failed = {**probe("null", None), "error": {"reason": "timeout", "message": "timed out"}}
    f = facts(cors={"arbitrary": probe("https://x.invalid", None), "null": failed})
    assert judge("web.cors", f).status is Status.ERROR


def test_an_exposure_probe_that_failed_is_an_error() -> None:
    failed = {"name": "env", "path": "/.env", "what": "x", "status": None, "exposed": False,
              "first_line": None, "error": {"reason": "budget", "message": "spent"}}
    assert judge("web.exposure", facts(exposure=[failed])).status is Status.ERROR


def test_an_ignored_exposure_passes() -> None:
    hit = {"name": "server_status", "path": "/server-status", "what": "x", "status": 200,
           "exposed": True, "first_line": "Active connections", "error": None}
    assert judge("web.exposure", facts(exposure=[hit])).status is Status.FAIL
    assert judge("web.exposure", facts(exposure=[hit]),
                 ignore=["server_status"]).status is Status.PASS


def security_txt(expires: str):
    parsed = {"contact": ["mailto:s@city.test"], "expires": expires, "fields": [], "problems": []}
    return {"url": "https://www.city.test/.well-known/security.txt", "status": 200,
            "content_type": "text/plain", "error": None, "parsed": parsed}


@pytest.mark.parametrize(("expires", "status"), [
    ("2027-06-01T00:00:00+00:00", Status.PASS),
    ("2026-12-01T00:00:00+00:00", Status.FAIL),
    ("2029-01-01T00:00:00+00:00", Status.FAIL),
], ids=["current", "expired", "too-far-ahead"])
def test_security_txt_expiry_is_judged_against_the_scan_time(expires, status) -> None:
    f = facts(security_txt=security_txt(expires), fetched_at="2026-12-02T00:00:00+00:00")
    assert judge("web.security_txt", f).status is status


@pytest.mark.parametrize(("hsts", "options", "status"), [
    ({"max_age": 31536000, "malformed": None}, {}, Status.PASS),
    ({"max_age": None, "malformed": None}, {}, Status.FAIL),
    ({"max_age": 300, "malformed": "max-age is repeated"}, {}, Status.FAIL),
    ({"max_age": None, "malformed": None}, {"hsts": False}, Status.PASS),
], ids=["hsts", "no-hsts", "malformed", "hsts-not-required"])
def test_redirects_end_under_hsts(hsts, options, status) -> None:
    chain = [{"url": "https://city.test/", "status": 301}, {"url": "https://www.city.test/",
                                                           "status": 200}]
    f = facts(hsts=hsts, chain=chain, final_url="https://www.city.test/")
    assert judge("web.redirects", f, **options).status is status


def test_an_endpoint_that_does_not_redirect_is_not_judged_on_hsts() -> None:
    # http.hsts judges that header; a policy with both rules fails it once.
    chain = [{"url": "https://www.city.test/", "status": 200}]
    f = facts(hsts={"max_age": None, "malformed": None}, chain=chain,
              final_url="https://www.city.test/")
    assert judge("web.redirects", f).status is Status.PASS


def security_txt_at(location: str, canonical: list[str]):
    txt = security_txt("2027-06-01T00:00:00+00:00")
    txt["parsed"] = {**txt["parsed"], "canonical": canonical, "signed": False}
    if location == "legacy":
        txt["url"] = "https://www.city.test/security.txt"
    return {**txt, "location": location}


@pytest.mark.parametrize(("location", "canonical", "options", "status"), [
    ("well-known", [], {}, Status.PASS),
    ("legacy", [], {}, Status.PASS),
    ("legacy", [], {"legacy": False}, Status.FAIL),
    ("well-known", ["https://www.city.test/.well-known/security.txt"], {}, Status.PASS),
    ("well-known", ["https://other.test/.well-known/security.txt"], {}, Status.FAIL),
], ids=["well-known", "legacy", "legacy-refused", "canonical-matches", "canonical-elsewhere"])
def test_security_txt_location_and_canonical(location, canonical, options, status) -> None:
    f = facts(security_txt=security_txt_at(location, canonical),
              fetched_at="2026-12-02T00:00:00+00:00")
    assert judge("web.security_txt", f, **options).status is status
