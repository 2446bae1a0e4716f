"""The department page's Privacy section: third parties per asset, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

from scanner.reports import render

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LOADED = [
    {"site": "googletagmanager.com", "kinds": ["script"], "allowed": False,
     "tracker": {"name": "Google Analytics", "category": "Analytics"}},
    {"site": "cityfonts.example", "kinds": ["font", "style"], "allowed": True, "tracker": None},
]


def department_page(doc, tmp_path) -> str:
    paths = render(doc, ["html"], tmp_path, now=NOW)
    return next(p for p in paths if p.name == "dept-parks.html").read_text()


def test_third_parties_are_listed_with_tracker_names(make_run, tmp_path) -> None:
    b = make_run()
    b.rule("trackers", check="web.third_parties", options={})
    b.finding(b.asset("parks", "www"), "trackers", "fail",
              evidence={"third_parties": LOADED, "pages_read": 1})
    text = department_page(b.build(), tmp_path)
    assert '<h2 id="privacy">Privacy</h2>' in text
    assert ("<strong>googletagmanager.com</strong>: Google Analytics, a known analytics tracker; "
            "the page loads scripts from it.") in text
    assert ("<strong>cityfonts.example</strong>; the page loads fonts, stylesheets from it "
            "(allowed by the policy).") in text


def test_an_asset_with_no_third_party_says_so(make_run, tmp_path) -> None:
    b = make_run()
    b.rule("trackers", check="web.third_parties", options={})
    b.finding(b.asset("parks", "www"), "trackers", "pass", evidence={"third_parties": []})
    assert "The pages load nothing from other sites." in department_page(b.build(), tmp_path)


def test_without_such_evidence_there_is_no_privacy_section(make_run, tmp_path) -> None:
    b = make_run()
    b.rule("r1")
    b.finding(b.asset("parks", "www"), "r1", "fail")
    assert 'id="privacy"' not in department_page(b.build(), tmp_path)


def test_hostile_site_names_are_escaped(make_run, tmp_path) -> None:
    b = make_run()
    b.rule("trackers", check="web.third_parties", options={})
    hostile = [{"site": "<script>x</script>", "kinds": ["<b>"], "allowed": False,
                "tracker": {"name": "<img src=x>", "category": "A"}}]
    b.finding(b.asset("parks", "www"), "trackers", "fail", evidence={"third_parties": hostile})
    text = department_page(b.build(), tmp_path)
    assert "<script>x</script>" not in text and "<img src=x>" not in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text


def test_tracker_purposes_and_the_sample_list_are_said_in_plain_words(make_run, tmp_path) -> None:
    b = make_run()
    b.rule("trackers", check="web.third_parties", options={})
    loaded = [{"site": "facebook.net", "kinds": ["script"], "allowed": False,
               "tracker": {"name": "Facebook", "category": "advertising",
                           "purposes": ["advertising", "analytics", "social media"]}}]
    b.finding(b.asset("parks", "www"), "trackers", "fail",
              evidence={"third_parties": loaded, "tracker_list": {"list": "bundled sample"}})
    text = department_page(b.build(), tmp_path)
    assert ("<strong>facebook.net</strong>: Facebook, a known advertising tracker "
            "(also analytics, social media); the page loads scripts from it.") in text
    assert "small sample list bundled with civiscan" in text


def test_an_imported_tracker_list_is_not_called_a_sample(make_run, tmp_path) -> None:
    b = make_run()
    b.rule("trackers", check="web.third_parties", options={})
    b.finding(b.asset("parks", "www"), "trackers", "fail",
              evidence={"third_parties": LOADED, "tracker_list": {"list": "imported"}})
    assert "small sample list" not in department_page(b.build(), tmp_path)
