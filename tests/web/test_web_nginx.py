"""The web family against fixture sites served by a real nginx on 127.0.213.x."""

from __future__ import annotations

import ipaddress
import json

import pytest

from scanner.inventory import Scope
from scanner.models import CollectFailed, Status
from tests.conftest import judge

pytestmark = pytest.mark.integration

ALL = ("web.cors", "web.exposure", "web.security_txt")


@pytest.fixture(scope="module")
def facts(web_lab):
    return {name: web_lab.collect(name, checks=ALL, web_contact_url="https://city.test/scanner")
            for name in ("clean", "leaky", "exposed", "soft404", "cors-reflect", "cors-star",
                         "cors-null", "legacy-txt", "canonical-txt", "signed-txt", "far-txt")}


# -- rules of the crawl -------------------------------------------------------------------


def test_requests_identify_civiscan_with_the_contact_url(facts, web_lab) -> None:
    agents = {line.split(" ", 3)[3] for line in web_lab.log.read_text().splitlines()}
    assert agents and all(a.startswith("civiscan/") and "+https://city.test/scanner" in a
                          for a in agents)


def test_only_gets_to_the_fixture_hosts_are_sent(facts, web_lab) -> None:
    lines = [line.split(" ") for line in web_lab.log.read_text().splitlines()]
    assert {m for _h, m, *_ in lines} == {"GET"}
    assert {h for h, *_ in lines} <= {s.hostname for s in web_lab.sites.values()}


def test_each_endpoint_stays_within_its_request_budget(facts) -> None:
    for one in facts.values():
        assert one["requests"] <= one["budget"] == 20


def test_a_spent_budget_is_an_error_with_its_reason(web_lab) -> None:
    with pytest.raises(CollectFailed) as caught:
        web_lab.collect("redirects", "/to-clean", web_max_requests=1)
    assert caught.value.reason == "budget"


def test_third_party_urls_are_listed_not_fetched(facts) -> None:
    sites = [t["site"] for t in facts["leaky"]["third_parties"]]
    assert sites == ["facebook.com", "facebook.net", "forms.test", "googletagmanager.com", "insecure.test",
                     "jsdelivr.test", "styles.test", "youtube.test"]


def test_same_site_redirects_are_followed_through_the_gate(web_lab) -> None:
    got = web_lab.collect("redirects", "/to-clean")
    assert [h["status"] for h in got["chain"]] == [301, 200]
    assert got["final_url"] == web_lab.url("clean")
    assert judge("web.redirects", got).status is Status.PASS


def test_a_redirect_to_another_site_is_not_followed(web_lab) -> None:
    got = web_lab.collect("redirects", "/away")
    assert got["left_site_to"] == "https://tracker.test/r?u=1"
    assert got["pages"] == []
    assert judge("web.redirects", got).status is Status.FAIL
    assert judge("web.third_parties", got).status is Status.NOT_APPLICABLE


def test_a_redirect_hop_outside_the_scope_is_refused(web_lab) -> None:
    scope = Scope((ipaddress.ip_network("127.0.213.0/24"),), ("redirects.city.test",))
    with pytest.raises(CollectFailed) as caught:
        web_lab.collect("redirects", "/outside", scope=scope)
    assert caught.value.reason.value == "scope"
    assert "evil.city.test" in caught.value.message


def test_a_redirect_loop_ends_after_the_hop_limit(web_lab) -> None:
    with pytest.raises(CollectFailed, match="more than 5 redirects"):
        web_lab.collect("redirects", "/loop")


def test_a_redirect_down_to_plain_http_fails(web_lab) -> None:
    got = web_lab.collect("redirects", "/plain")
    assert judge("web.redirects", got).status is Status.FAIL


def test_an_unverifiable_certificate_is_a_tls_error(web_lab) -> None:
    from scanner.plugins.web import plugin  # noqa: F401  (collect below uses it)

    lab = web_lab.__class__(web_lab.sites, web_lab.https_port, web_lab.plain_port, None,
                            web_lab.log)
    with pytest.raises(CollectFailed) as caught:
        lab.collect("clean")
    assert caught.value.reason.value == "tls"


# -- verdicts on the fixture sites ---------------------------------------------------------

CLEAN_PASSES = ("web.third_parties", "web.trackers", "web.subresource_integrity",
                "web.mixed_content", "web.forms", "web.csp", "web.referrer_policy",
                "web.permissions_policy", "web.cors", "web.exposure", "web.security_txt",
                "web.redirects")


@pytest.mark.parametrize("check", CLEAN_PASSES)
def test_the_clean_site_passes(facts, check) -> None:
    outcome = judge(check, facts["clean"])
    assert outcome.status is Status.PASS, outcome.message


LEAKY_FAILS = ("web.third_parties", "web.trackers", "web.subresource_integrity",
               "web.mixed_content", "web.forms", "web.csp", "web.referrer_policy",
               "web.permissions_policy", "web.security_txt")


@pytest.mark.parametrize("check", LEAKY_FAILS)
def test_the_leaky_site_fails(facts, check) -> None:
    outcome = judge(check, facts["leaky"])
    assert outcome.status is Status.FAIL, outcome.message


def test_trackers_are_named(facts) -> None:
    outcome = judge("web.trackers", facts["leaky"])
    assert {t["name"] for t in outcome.evidence["trackers"]} == {"Google", "Facebook"}
    assert {t["category"] for t in outcome.evidence["trackers"]} == {"advertising"}
    assert outcome.evidence["tracker_list"]["list"] == "bundled sample"


def test_sri_lists_only_unprotected_third_party_scripts(facts) -> None:
    outcome = judge("web.subresource_integrity", facts["leaky"])
    assert outcome.evidence["resources"] == [
        "https://www.googletagmanager.com/gtag/js?id=G-1",
        "https://connect.facebook.net/en_US/fbevents.js",
        "https://cdn.jsdelivr.test/npm/lib.js",
        "http://insecure.test/widget.js",
    ]


def test_mixed_content_separates_active_and_passive(facts) -> None:
    outcome = judge("web.mixed_content", facts["leaky"])
    assert outcome.evidence["active"] == ["http://insecure.test/widget.js"]
    assert outcome.evidence["passive"] == ["http://leaky.city.test/banner.png"]


def test_forms_name_the_http_post_and_the_password_without_hsts(facts) -> None:
    problems = judge("web.forms", facts["leaky"]).evidence["problems"]
    assert any("plain HTTP to http://forms.test/apply" in p for p in problems)
    assert any("password field" in p for p in problems)


def test_allowed_third_parties_pass(facts) -> None:
    allowed = ["facebook.com", "facebook.net", "forms.test", "googletagmanager.com", "insecure.test",
               "jsdelivr.test", "styles.test", "youtube.test"]
    assert judge("web.third_parties", facts["leaky"], allowed=allowed).status is Status.PASS


def test_exposed_git_and_env_fail_with_redacted_evidence(facts) -> None:
    outcome = judge("web.exposure", facts["exposed"])
    assert outcome.status is Status.FAIL
    assert [(e["path"], e["first_line"]) for e in outcome.evidence["exposed"]] == [
        ("/.git/HEAD", "ref: [redacted]"),
        ("/.env", "DB_USER=[redacted]"),
        ("/uploads/", "Index of /uploads/"),
    ]


def test_no_env_value_reaches_the_facts(facts) -> None:
    from tests.web.conftest import SECRET

    assert SECRET not in json.dumps(facts)


def test_a_soft_404_site_is_not_reported_exposed(facts) -> None:
    assert all(p["status"] == 200 for p in facts["soft404"]["exposure"])
    assert judge("web.exposure", facts["soft404"]).status is Status.PASS


def test_a_soft_404_security_txt_is_not_a_security_txt(facts) -> None:
    outcome = judge("web.security_txt", facts["soft404"])
    assert outcome.status is Status.FAIL
    assert "not a text/plain file" in outcome.message


def test_a_missing_security_txt_fails(facts) -> None:
    assert judge("web.security_txt", facts["exposed"]).status is Status.FAIL


def test_an_expired_security_txt_fails(facts) -> None:
    outcome = judge("web.security_txt", facts["leaky"])
    assert "expired" in outcome.message


def test_a_soft_404_is_not_taken_for_the_legacy_file_either(facts) -> None:
    txt = facts["soft404"]["security_txt"]
    assert [t["url"].split(":", 2)[2].split("/", 1)[1] for t in txt["tried"]] == [
        ".well-known/security.txt", "security.txt"]
    assert [t["content_type"] for t in txt["tried"]] == ["text/html", "text/html"]


def test_the_legacy_path_is_the_fallback(facts) -> None:
    txt = facts["legacy-txt"]["security_txt"]
    assert txt["location"] == "legacy" and txt["url"].endswith("/security.txt")
    assert [t["status"] for t in txt["tried"]] == [404, 200]
    assert judge("web.security_txt", facts["legacy-txt"]).status is Status.PASS
    strict = judge("web.security_txt", facts["legacy-txt"], legacy=False)
    assert strict.status is Status.FAIL
    assert "only at the legacy /security.txt" in strict.message


def test_a_canonical_naming_another_url_fails(facts) -> None:
    outcome = judge("web.security_txt", facts["canonical-txt"])
    assert outcome.status is Status.FAIL
    assert "which no Canonical field names" in outcome.message


def test_a_signed_file_with_its_own_canonical_passes(facts) -> None:
    outcome = judge("web.security_txt", facts["signed-txt"])
    assert outcome.status is Status.PASS, outcome.message
    assert outcome.evidence["signed"] is True
    assert outcome.evidence["canonical"] == [facts["signed-txt"]["security_txt"]["url"]]


def test_an_expiry_more_than_a_year_ahead_fails(facts) -> None:
    outcome = judge("web.security_txt", facts["far-txt"])
    assert outcome.status is Status.FAIL
    assert "more than 366 days ahead" in outcome.message
    assert judge("web.security_txt", facts["far-txt"], max_days=900).status is Status.PASS


@pytest.mark.parametrize(("site", "problem"), [
    ("cors-reflect", "the arbitrary origin https://civiscan-cors-probe.invalid is allowed with credentials"),
    ("cors-star", "Access-Control-Allow-Origin: * with credentials"),
    ("cors-null", "the null origin null is allowed"),
], ids=["reflected", "wildcard-credentials", "null"])
def test_cors_variants_fail(facts, site, problem) -> None:
    outcome = judge("web.cors", facts[site])
    assert outcome.status is Status.FAIL
    assert problem in outcome.evidence["problems"]
