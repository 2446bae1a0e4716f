"""The tls check modules share one shape, and collection probes what the requested checks need."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from scanner.plugin import CheckRequest
from scanner.plugins.tls import _plan, certchecks, checks, plugin, vulnchecks
from scanner.plugins.tls.probe import Plan

MODULES = [checks, certchecks, vulnchecks]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_check_declares_what_it_needs(module: ModuleType) -> None:
    assert set(module.NEEDS) == {c.id for c in module.CHECKS}


@pytest.mark.parametrize(
    "check", [c for m in MODULES for c in m.CHECKS], ids=lambda c: c.id)
def test_docstring_names_every_option_and_gives_examples(check) -> None:
    doc = check.documentation
    assert "PASS" in doc and "FAIL" in doc
    missing = [name for name in check.options if not re.search(rf"``{name}``", doc)]
    assert missing == []


def test_the_plugin_holds_the_checks_of_every_module() -> None:
    assert [c.id for c in plugin.checks] == [c.id for m in MODULES for c in m.CHECKS]


@pytest.mark.parametrize(
    ("wanted", "plan"),
    [
        ([], Plan()),
        (["tls.protocols", "tls.certificate"], Plan.nothing()),
        (["tls.secure_renegotiation", "tls.compression"], Plan.nothing()),
        (["tls.ciphers"], Plan.only("ciphers")),
        (["tls.key_exchange", "tls.server_order"], Plan.only("ciphers", "order", "groups")),
        (["tls.fallback_scsv", "tls.heartbleed"], Plan.only("fallback", "heartbleed")),
    ],
    ids=["nothing-named", "no-probing", "from-the-hellos", "ciphers", "union", "one-more-each"],
)
def test_collection_probes_the_union_of_the_needs(wanted: list[str], plan: Plan) -> None:
    assert _plan([CheckRequest(w, {}) for w in wanted]) == plan
