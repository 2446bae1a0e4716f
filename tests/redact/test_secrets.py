"""scanner.secrets on data: what is masked, what is kept, and that masking is idempotent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.secrets import (
    COMMON_NAMES,
    MASK,
    clean_text,
    is_secret_key,
    is_secret_param,
    key_screen,
    mask_set_cookie,
    may_hold_secret,
    scrub,
)

SECRET_KEYS = ["password", "db_password", "Password", "DB_PASSWORD", "passwd", "passphrase", "pwd",
               "secret", "client_secret", "token", "accessToken", "refresh_token", "api_key", "apiKey",
               "X-Api-Key", "authorization", "Proxy-Authorization", "WWW-Authenticate",
               "private_key", "privateKey", "aws_access_key", "session_id", "sessionId",
               "JSESSIONID", "cookie", "X-Amz-Signature", "X-Amz-Credential", "set-cookie"]
FACT_KEYS = ["password_env", "passphrase_env", "secret_env", "signature_algorithm",
             "signature", "key_type", "key", "cookies", "session_resumption", "session_ids",
             "allow_credentials", "access-control-allow-credentials", "monkey", "url", "location",
             "digital_signature", "tickets"]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_a_key_naming_a_secret_is_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", FACT_KEYS)
def test_a_key_naming_a_fact_is_not(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize("name", ["token", "access_token", "code", "session", "sid", "key", "api_key",
                                  "subscription-key", "password", "signature", "X-Amz-Signature",
                                  "jsessionid", "sig", "id_token"])
def test_a_secret_parameter_is_secret(name: str) -> None:
    assert is_secret_param(name)


@pytest.mark.parametrize("name", ["page", "lang", "id", "q", "utm_source", "v", "ev"])
def test_an_ordinary_parameter_is_not(name: str) -> None:
    assert not is_secret_param(name)


@pytest.mark.parametrize(("value", "shown"), [
    (True, True), (False, False), (None, None), (0, 0), (3.5, 3.5), ("", ""),
    ("hunter2", MASK), (["a", "b"], [MASK, MASK]), ({"inner": "x", "n": 2}, {"inner": MASK, "n": 2}),
], ids=["true", "false", "none", "zero", "float", "empty", "string", "list", "nested"])
def test_under_a_secret_key_only_strings_are_masked(value: Any, shown: Any) -> None:
    assert scrub({"password": value}) == {"password": shown}


def test_web_forms_evidence_keeps_its_password_booleans() -> None:
    page = {"url": "https://a.test/", "password_field": True,
            "forms": [{"action": "https://a.test/login", "password": True, "method": "post"}]}
    assert scrub(page) is page


def test_secrets_are_masked_at_any_depth() -> None:
    facts = {"pages": [{"env": {"DB_PASSWORD": "s3cret", "HOME": "/root"}}]}
    assert scrub(facts) == {"pages": [{"env": {"DB_PASSWORD": MASK, "HOME": "/root"}}]}


@pytest.mark.parametrize(("text", "clean"), [
    ("https://user:pass@host.test/x", "https://host.test/x"),
    ("https://host.test/cb?code=abc&state=1", f"https://host.test/cb?code={MASK}&state=1"),
    ("/next?token=abc&lang=en#access_token=zz", f"/next?token={MASK}&lang=en#access_token={MASK}"),
    ("https://s3.test/o?X-Amz-Signature=ab12&X-Amz-Date=1", f"https://s3.test/o?X-Amz-Signature={MASK}&X-Amz-Date=1"),
    ("/app;jsessionid=ABC123?x=1", f"/app;jsessionid={MASK}?x=1"),
    ("GET https://u:p@h.test/?api_key=k1 failed: reset", f"GET https://h.test/?api_key={MASK} failed: reset"),
    ("Authorization: Bearer eyJhbGciOi.payload.sig", f"Authorization: Bearer {MASK}"),
    ("https://host.test/page?id=7", "https://host.test/page?id=7"),
    ("the token expired", "the token expired"),
    ("mailto:security@city.test", "mailto:security@city.test"),
], ids=["userinfo", "oauth-code", "relative-and-fragment", "presigned", "path-parameter",
        "error-message", "bearer", "ordinary-query", "prose", "email"])
def test_text_loses_credentials_and_keeps_the_rest(text: str, clean: str) -> None:
    assert clean_text(text) == clean


@pytest.mark.parametrize(("line", "shown"), [
    ("sid=abc123; Path=/; Secure; HttpOnly", f"sid={MASK}; Path=/; Secure; HttpOnly"),
    ("sid=<redacted>; Secure", "sid=<redacted>; Secure"),
    ("flag=; Path=/", "flag=; Path=/"),
    ("nameless; Secure", f"{MASK}; Secure"),
], ids=["value", "already-dropped", "empty", "nameless"])
def test_a_set_cookie_line_keeps_name_and_attributes(line: str, shown: str) -> None:
    assert mask_set_cookie(line) == shown
    assert scrub({"set-cookie": [line]}) == {"set-cookie": [shown]}


def test_nothing_to_mask_returns_the_same_object() -> None:
    facts = {"headers": {"server": ["nginx"]}, "chain": [{"url": "https://a.test/", "status": 200}]}
    assert scrub(facts) is facts


def test_the_key_screen_finds_every_name_as_a_json_key() -> None:
    names = ["password", "ca_file", "x-api-key"]
    screen = key_screen(names)
    for name in names:
        assert screen.search(json.dumps({name: "v"}))
    assert not screen.search(json.dumps({"password_field": True, "passwords": 1}))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(SECRET_KEYS + FACT_KEYS) | st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_scrubbing_twice_changes_nothing_more(value: Any) -> None:
    once = scrub(value)
    assert scrub(once) == once


# A Set-Cookie line keeps its name and attributes: test_a_set_cookie_line_keeps_name_and_attributes.
@given(st.dictionaries(st.sampled_from([k for k in SECRET_KEYS if k != "set-cookie"]),
                       st.text(min_size=1, max_size=20), min_size=1))
def test_no_string_under_a_secret_key_survives(value: dict[str, str]) -> None:
    assert scrub(value) == dict.fromkeys(value, MASK)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=20),
       st.sampled_from(["token", "access_token", "code", "sid", "api_key", "password", "signature"]))
def test_a_secret_parameter_never_survives_in_a_url(secret: str, name: str) -> None:
    url = f"https://user:{secret}@a.test/p?lang=en&{name}={secret}#x"
    shown = clean_text(url)
    assert secret not in shown
    assert f"{name}={MASK}" in shown and "lang=en" in shown


@given(st.sampled_from(COMMON_NAMES), st.text(min_size=1, max_size=20), json_values)
def test_the_quick_look_finds_a_common_secret_key_anywhere(name: str, secret: str, around: Any) -> None:
    text = json.dumps({"other": around, "nested": [{name: secret}]})
    assert may_hold_secret(text)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12))
def test_the_quick_look_finds_credentials_in_a_url(secret: str) -> None:
    assert may_hold_secret(json.dumps({"location": f"http://u:{secret}@a.test/"}))
    assert may_hold_secret(json.dumps({"location": f"/next?token={secret}"}))


def test_the_quick_look_passes_ordinary_evidence() -> None:
    assert not may_hold_secret(json.dumps({"accepted": ["TLSv1.2"], "password_field": False,
                                           "url": "https://a.test/"}))
