"""A department report on paper: printed to PDF by a real headless Chromium, pages counted."""

from __future__ import annotations

import subprocess
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from scanner.policy import builtin_policy_names
from scanner.reports import frameworks, render
from tests.reports.conftest import RunBuilder

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
MAX_PAGES = 4
"""Two assets under every shipped rule, ten failing, print on at most this many Letter pages."""

FAILING = {
    "tls-protocols": {"accepted": ["TLSv1.0", "TLSv1.1", "TLSv1.2"], "forbidden_accepted": ["TLSv1.0", "TLSv1.1"],
                      "forbidden": ["SSLv3", "TLSv1.0", "TLSv1.1"]},
    "tls-certificate": {"hostname": "www.parks.city.example", "subject": "CN=www.parks.city.example",
                        "issuer": "CN=R11,O=Let's Encrypt,C=US", "not_after": "2026-12-09T08:00:00+00:00",
                        "days_left": 14, "key": "RSA 2048", "signature_algorithm": "sha256WithRSAEncryption",
                        "sha256": "ab" * 32, "anchor": "CN=ISRG Root X1",
                        "problems": [{"code": "expires_soon", "message": "The certificate expires in 14 days.",
                                      "certificate": 0}]},
    "web-hsts": {"url": "https://www.parks.city.example/", "header": None, "max_age": None,
                 "include_subdomains": None, "preload": None},
    "web-security-headers": {"url": "https://www.parks.city.example/", "content-security-policy": None,
                             "x-content-type-options": "nosniff", "x-frame-options": None,
                             "referrer-policy": "unsafe-url"},
    "web-no-trackers": {"trackers": [{"site": "google-analytics.com", "name": "Google Analytics",
                                      "category": "Analytics"}]},
    "web-third-parties": {"pages_read": 5, "third_parties": [
        {"site": "google-analytics.com", "kinds": ["script"], "allowed": False,
         "tracker": {"name": "Google Analytics", "category": "Analytics"}},
        {"site": "fonts.example", "kinds": ["style", "font"], "allowed": False, "tracker": None}]},
    "no-exposed-databases": {"address": "127.68.1.2", "scanner": "connect", "scanned": "3306,5432,6379,27017",
                             "scanned_count": 4, "forbidden": "3306,5432,6379,27017", "unanswered": "",
                             "open": [{"port": 3306, "protocol": "tcp", "service": "mysql", "product": None,
                                       "version": None}],
                             "forbidden_open": [{"port": 3306, "protocol": "tcp", "service": "mysql",
                                                 "product": None, "version": None}]},
    "no-cleartext-admin": {"address": "127.68.1.2", "scanner": "connect", "scanned": "21,23,5900",
                           "scanned_count": 3, "forbidden": "21,23,5900", "unanswered": "",
                           "open": [{"port": 5900, "protocol": "tcp", "service": "vnc", "product": None,
                                     "version": None}],
                           "forbidden_open": [{"port": 5900, "protocol": "tcp", "service": "vnc",
                                               "product": None, "version": None}]},
    "no-high-vulns": {"release": "debian 12", "feed": "debian-security 2026-11-24", "min_severity": "high",
                      "packages_checked": 412, "counted": 3, "truncated": False, "advisories": [
                          {"id": "DSA-5801-1", "package": "openssl", "installed": "3.0.11-1~deb12u2",
                           "fixed": "3.0.15-1~deb12u1", "severity": "high"},
                          {"id": "DSA-5799-1", "package": "curl", "installed": "7.88.1-10+deb12u5",
                           "fixed": "7.88.1-10+deb12u8", "severity": "high"},
                          {"id": "CVE-2026-1234", "package": "zlib", "installed": "1:1.2.13.dfsg-1",
                           "fixed": None, "severity": "critical"}]},
    "recent-updates": {"last_update": "2026-09-01T06:00:00+00:00", "age_days": 85, "max_age_days": 30},
}
REMEDIATION = (
    "Edit the service configuration, then reload it:\n\n"
    "- set `ssl_protocols TLSv1.2 TLSv1.3;`\n- run `systemctl reload nginx`\n\n"
    "See [the Mozilla guide](https://ssl-config.mozilla.org/) for **every** server."
)


def two_asset_department(make_run):
    """The city baseline's rules on one web server and one database host of one department."""
    b = make_run()
    rules = []
    for name in builtin_policy_names():
        for rule in yaml.safe_load((REPO / "policies" / f"{name}.yaml").read_text()).get("rules") or ():
            if rule["id"] in {r for r, _ in rules}:
                continue
            check = rule["checks"][0]["check"]
            b.rule(rule["id"], severity=rule.get("severity", "medium"), title=rule["title"],
                   rationale=" ".join(str(rule.get("rationale") or "").split()),
                   remediation=REMEDIATION, references=rule.get("references") or {},
                   check=check, options=rule["checks"][0].get("options") or {})
            rules.append((rule["id"], check))
    www = b.asset("parks", "www", url="https://www.parks.city.example/")
    db = b.asset("parks", "db", kind="host", address="127.68.1.2")
    for rule_id, check in rules:
        on_host = check.split(".")[0] in ("ports", "packages", "os")
        for asset, applies in ((www, not on_host), (db, on_host)):
            if not applies:
                b.finding(asset, rule_id, "not_applicable", message="Does not apply to this kind of asset.")
            elif rule_id in FAILING:
                b.finding(asset, rule_id, "fail", evidence=FAILING[rule_id],
                          message=f"{rule_id} fails on {asset}: the observed state is not what the policy requires.",
                          first_seen="2026-11-10T09:30:00+00:00")
            else:
                b.finding(asset, rule_id, "pass", message=f"{rule_id} holds on {asset}.")
    return b.build()


def print_to_pdf(binary: str, page: Path, tmp_path: Path) -> Path:
    out = tmp_path / (page.stem + ".pdf")
    subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
         f"--print-to-pdf={out}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return out


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    from tests.conftest import require_tool

    return require_tool("chromium")


def printed(binary: str, doc, tmp_path: Path, name: str, **kwargs) -> PdfReader:
    paths = render(doc, ["html"], tmp_path / "out", now=NOW, **kwargs)
    return PdfReader(print_to_pdf(binary, next(p for p in paths if p.name == name), tmp_path))


def text_of(pdf: PdfReader) -> str:
    """The printed words, ligatures (``ﬁ``) unfolded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", " ".join(p.extract_text().split())) for p in pdf.pages)


@pytest.fixture(scope="module")
def department_pdf(chromium_binary, tmp_path_factory) -> PdfReader:
    doc = two_asset_department(RunBuilder)
    assert sum(f["status"] == "fail" for f in doc["findings"]) == len(FAILING)
    return printed(chromium_binary, doc, tmp_path_factory.mktemp("print"), "dept-parks.html")


def test_a_two_asset_department_prints_on_few_pages(department_pdf):
    assert len(department_pdf.pages) <= MAX_PAGES, len(department_pdf.pages)


def test_paper_shows_evidence_in_words_and_never_the_json(department_pdf):
    text = text_of(department_pdf)
    assert "Forbidden and open: 3306/mysql" in text
    assert "openssl 3.0.11-1~deb12u2 -> fixed in 3.0.15-1~deb12u1" in text
    assert "Raw evidence" not in text and "forbidden_open" not in text


@pytest.mark.parametrize("badge", ["CRITICAL", "HIGH", "MEDIUM", "LOW"])
def test_badges_never_wrap_mid_word(department_pdf, badge):
    assert badge in text_of(department_pdf).split()


def test_a_framework_view_adds_at_most_a_page(chromium_binary, make_run, tmp_path):
    pdf = printed(chromium_binary, two_asset_department(make_run), tmp_path, "dept-parks.html",
                  frameworks=[frameworks.load("nist-800-53-r5")])
    assert len(pdf.pages) <= MAX_PAGES + 1, len(pdf.pages)
    words = text_of(pdf)
    assert "Frameworks" in words and "Transmission Confidentiality and Integrity" in words


def test_the_summary_page_prints_on_few_pages(chromium_binary, make_run, tmp_path):
    assert len(printed(chromium_binary, two_asset_department(make_run), tmp_path, "index.html").pages) <= 2
