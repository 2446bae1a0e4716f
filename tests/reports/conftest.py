"""Fixtures for the report renderers: a run-document factory and a headless Chromium.

``RunBuilder`` writes version-1 run documents the way the store exports them,
so each test states only what matters to it. ``Chromium`` drives a real
headless browser over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
no port, no extra dependency).
"""

from __future__ import annotations

import base64
import copy
import fcntl
import json
import os
import queue
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Status, fingerprint

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "reports"
STARTED = "2026-11-25T10:00:00+00:00"

# Each payload would set window.__pwned (or fetch something) if it ever ran.
HOSTILE = {
    "script": "<script>window.__pwned='script'</script>",
    "img": '"><img src=x onerror="window.__pwned=\'img\'">',
    "svg": "<svg onload=\"window.__pwned='svg'\"></svg>",
    "style": "</style><script>window.__pwned='style'</script><style>",
    "title": "</title><script>window.__pwned='title'</script>",
    "template": "{{ 7*7 }} {% raw %}",
    "url": "javascript:window.__pwned='url'",
    "fetch": '<img src="http://127.0.0.9/pixel.png">',
    "markdown": "![pixel](http://127.0.0.9/pixel.png) [click](javascript:alert(1))",
    "quotes": "it's \"quoted\" & 'single' `tick`",
    "unicode": "Zürich 東京 مرحبا \u202eevil\u202c 🔒",
    "control": "bell\x07 nul\x00 esc\x1b[31m",
}


class RunBuilder:
    """Builds a ``civiscan/run`` version-1 document, one asset/rule/finding at a time."""

    def __init__(
        self,
        run_id: int = 7,
        started: str = STARTED,
        status: str = "complete",
    ) -> None:
        self.doc: dict[str, Any] = {
            "schema": "civiscan/run",
            "schema_version": 1,
            "run": {
                "id": run_id,
                "started": started,
                "finished": None if status == "running" else started.replace("10:00", "10:05"),
                "status": status,
                "tool_version": "0.1.0",
                "policies": [
                    {
                        "id": "baseline",
                        "version": "1",
                        "title": "City baseline",
                        "digest": "ab" * 32,
                    }
                ],
                "inventory_digest": "cd" * 32,
                "exit_code": 0,
            },
            "departments": [],
            "assets": [],
            "rules": [],
            "findings": [],
            "waivers": [],
        }

    def department(self, name: str) -> RunBuilder:
        if name not in self.doc["departments"]:
            self.doc["departments"].append(name)
        return self

    def asset(
        self,
        department: str,
        name: str,
        *,
        kind: str = "endpoint",
        url: str | None = None,
        address: str | None = None,
        state: str = "done",
        errors: dict[str, dict[str, str]] | None = None,
    ) -> str:
        self.department(department)
        asset_id = f"{department}/{name}"
        if kind == "endpoint" and url is None:
            url = f"https://{name}.{department}.example/"
        self.doc["assets"].append(
            {
                "id": asset_id,
                "name": name,
                "kind": kind,
                "department": department,
                "address": address,
                "url": url if kind == "endpoint" else None,
                "tags": ["web"] if kind == "endpoint" else ["linux"],
                "state": state,
                "facts": {},
                "errors": errors or {},
            }
        )
        return asset_id

    def rule(
        self,
        rule_id: str,
        *,
        severity: str = "high",
        title: str | None = None,
        rationale: str = "Old protocols let an attacker read traffic.",
        remediation: str = "Disable TLSv1.0 and TLSv1.1 in the server configuration.",
        references: dict[str, list[str]] | None = None,
        check: str = "tls.protocols",
        options: dict[str, Any] | None = None,
    ) -> str:
        self.doc["rules"].append(
            {
                "id": rule_id,
                "policy": "baseline",
                "title": title or f"Rule {rule_id}",
                "severity": severity,
                "rationale": rationale,
                "remediation": remediation,
                "references": references if references is not None else {"nist-800-53": ["SC-8"]},
                "checks": [
                    {
                        "check": check,
                        "options": options if options is not None else {"minimum": "TLSv1.2"},
                    }
                ],
            }
        )
        return rule_id

    def finding(
        self,
        asset_id: str,
        rule_id: str,
        status: str,
        *,
        message: str | None = None,
        evidence: Any = None,
        reason: str | None = None,
        waiver: dict[str, Any] | None = None,
        first_seen: str | None = STARTED,
        severity: str | None = None,
    ) -> str:
        rule = next(r for r in self.doc["rules"] if r["id"] == rule_id)
        fp = fingerprint(asset_id, rule_id)
        text = message or f"{rule_id} is {status} on {asset_id}"
        self.doc["findings"].append(
            {
                "fingerprint": fp,
                "asset_id": asset_id,
                "rule_id": rule_id,
                "status": status,
                "severity": severity or rule["severity"],
                "message": text,
                "reason": reason,
                "checks": [
                    {
                        "check": rule["checks"][0]["check"],
                        "status": status if status != Status.WAIVED.value else Status.FAIL.value,
                        "message": text,
                        "reason": reason,
                        "evidence": evidence if evidence is not None else {"accepted": ["TLSv1.2"]},
                    }
                ],
                "waiver": waiver,
                "first_seen": first_seen,
            }
        )
        return fp

    def waiver(
        self,
        waiver_id: str,
        rule_id: str,
        *,
        state: str = "active",
        expires: str = "2026-12-31",
        matched: int = 0,
        ticket: str = "SEC-12",
    ) -> dict[str, Any]:
        waiver = {
            "id": waiver_id,
            "rule": rule_id,
            "assets": {"names": ["*"]},
            "expires": expires,
            "state": state,
            "matched": matched,
            "justification": "Vendor appliance; replacement ordered.",
            "owner": "ops@city.example",
            "approver": "ciso@city.example",
            "ticket": ticket,
        }
        self.doc["waivers"].append(waiver)
        return {k: v for k, v in waiver.items() if k not in ("rule", "assets", "matched")}

    def build(self) -> dict[str, Any]:
        doc = copy.deepcopy(self.doc)
        counts = Counter(f["status"] for f in doc["findings"])
        doc["summary"] = {
            "assets": len(doc["assets"]),
            "assessed": sum(1 for a in doc["assets"] if a["state"] == "done"),
            "findings": {s.value: counts.get(s.value, 0) for s in Status},
        }
        return doc


@pytest.fixture
def make_run() -> type[RunBuilder]:
    return RunBuilder


def city(run_id: int = 7, started: str = STARTED) -> RunBuilder:
    """Two ordinary departments with distinct asset names, one failure each."""
    b = RunBuilder(run_id, started)
    b.rule("tls-protocols", severity="high", title="Only modern TLS")
    b.rule(
        "ports-allowed",
        severity="medium",
        title="Only approved ports",
        check="ports.allowed",
        options={"allowed": [22, 443]},
    )
    www = b.asset("parks", "parkswww7f3a")
    shop = b.asset("parks", "parksshop2b1c")
    db = b.asset("water", "waterdb19c2", kind="host", address="127.0.0.5")
    b.finding(
        www,
        "tls-protocols",
        "fail",
        message="TLSv1.0 is accepted",
        evidence={"accepted": ["TLSv1.0", "TLSv1.2"], "minimum": "TLSv1.2"},
    )
    b.finding(shop, "tls-protocols", "pass", message="Only TLSv1.2 and TLSv1.3 are accepted")
    b.finding(www, "ports-allowed", "pass", message="Only 443 is open")
    b.finding(
        db, "ports-allowed", "fail", message="Port 3306 is open", evidence={"open": [22, 3306]}
    )
    b.finding(db, "tls-protocols", "not_applicable", message="No TLS service")
    return b


@pytest.fixture
def city_doc() -> dict[str, Any]:
    return city().build()


def hostile() -> RunBuilder:
    b = RunBuilder()
    b.rule(
        "tls-protocols",
        title="TLS " + HOSTILE["title"],
        remediation='Step 1, edit "ssl.conf":\n  ssl_protocols TLSv1.2;\n'
        + HOSTILE["markdown"]
        + HOSTILE["fetch"],
        references={"cis" + HOSTILE["img"]: [HOSTILE["script"]]},
    )
    evil = b.asset("parks", HOSTILE["script"], url=HOSTILE["url"])
    plain = b.asset("parks", "parkswww7f3a")
    other = b.asset(
        "water " + HOSTILE["img"], "waterdb19c2" + HOSTILE["svg"], kind="host", address="127.0.0.5"
    )
    evidence = {
        "subject": "CN=" + HOSTILE["img"],
        "issuer": HOSTILE["style"],
        "banner": HOSTILE["control"],
        "note": HOSTILE["template"] + HOSTILE["quotes"] + HOSTILE["unicode"],
        "ca_file": "/home/scanner/secret/ca.pem",
        "chain": [{"subject": HOSTILE["svg"]}],
    }
    b.finding(
        evil,
        "tls-protocols",
        "fail",
        message="Accepted " + HOSTILE["script"] + HOSTILE["quotes"],
        evidence=evidence,
    )
    b.finding(
        plain,
        "tls-protocols",
        "fail",
        message=HOSTILE["fetch"] + HOSTILE["unicode"],
        evidence=evidence,
    )
    b.finding(
        other, "tls-protocols", "error", reason="timeout", message="Timed out " + HOSTILE["svg"]
    )
    return b


@pytest.fixture
def hostile_doc() -> dict[str, Any]:
    return hostile().build()


@pytest.fixture
def empty_doc() -> dict[str, Any]:
    b = RunBuilder()
    b.department("parks")
    b.asset("parks", "parkswww7f3a")
    return b.build()


@pytest.fixture
def error_doc() -> dict[str, Any]:
    b = RunBuilder(status="interrupted")
    b.rule("tls-protocols")
    a = b.asset(
        "parks",
        "parkswww7f3a",
        errors={"tls": {"reason": "timeout", "message": "no answer in 5 s"}},
    )
    b.asset("parks", "parksshop2b1c", state="pending")  # the run stopped before reaching it
    b.finding(a, "tls-protocols", "error", reason="timeout", message="no answer in 5 s")
    return b.build()


@pytest.fixture
def waiver_doc() -> dict[str, Any]:
    b = RunBuilder()
    b.rule("tls-protocols")
    soon = b.waiver("w-soon", "tls-protocols", expires="2026-12-10", matched=30)
    b.waiver("w-later", "tls-protocols", expires="2027-06-30", matched=0, ticket="SEC-13")
    b.waiver("w-old", "tls-protocols", state="expired", expires="2026-11-01", matched=1)
    b.waiver("w-stale", "tls-protocols", state="stale", expires="2027-01-31", matched=0)
    for i in range(30):
        asset = b.asset("parks", f"kiosk{i:02d}")
        b.finding(asset, "tls-protocols", "waived", waiver=soon)
    expired = soon | {
        "id": "w-old",
        "state": "expired",
        "expires": "2026-11-01",
    }
    b.finding(b.asset("parks", "legacy"), "tls-protocols", "fail", waiver=expired)
    return b.build()


@pytest.fixture
def changed_runs() -> tuple[dict[str, Any], dict[str, Any]]:
    """Run 6 and run 7 of parks: one finding in each change category."""
    earlier = "2026-10-01T10:00:00+00:00"
    runs = []
    for run_id, started in ((6, "2026-11-18T10:00:00+00:00"), (7, STARTED)):
        b = RunBuilder(run_id, started)
        b.rule("tls-protocols")
        b.rule(
            "ports-allowed", severity="medium", check="ports.allowed", options={"allowed": [443]}
        )
        www, shop, db = (b.asset("parks", n) for n in ("www", "shop", "db"))
        later = run_id == 7
        b.finding(www, "tls-protocols", "fail", first_seen=earlier)  # still failing
        b.finding(shop, "tls-protocols", "pass" if later else "fail", first_seen=earlier)  # fixed
        b.finding(db, "ports-allowed", "fail" if later else "pass", first_seen=started)  # new
        b.finding(
            www, "ports-allowed", "fail" if later else "pass", first_seen=earlier
        )  # regressed
        runs.append(b.build())
    return runs[0], runs[1]


# --- headless Chromium over the DevTools protocol ---------------------------------------


@dataclass
class PageResult:
    url: str
    title: str
    pwned: Any
    text: str
    requests: list[str]
    errors: list[str]
    console: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    extra: Any = None
    pdf: bytes = b""


class Chromium:
    """One headless Chromium; ``open(path)`` loads a file and reports what happened."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-pipe",
    )

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # The browser reads commands on fd 3 and answers on fd 4. Park our ends
        # high so the dup2 in the child cannot clobber them, and keep 3 and 4
        # taken here so subprocess's own error pipe never lands on them.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 20)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 20)
        os.close(to_browser_r)
        os.close(from_browser_w)
        fillers = []
        for fd in (3, 4):
            try:
                os.fstat(fd)
            except OSError:
                fillers.append(os.open(os.devnull, os.O_RDONLY))

        def wire() -> None:
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        try:
            self.proc = subprocess.Popen(
                [binary, *self.FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=wire,
                pass_fds=(3, 4),
            )
        finally:
            for fd in (*fillers, high_r, high_w):
                os.close(fd)
        self._out = os.fdopen(to_browser_w, "wb", buffering=0)
        self._in = os.fdopen(from_browser_r, "rb", buffering=0)
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = self._in.read(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._messages.put(json.loads(raw))

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        events: list[dict[str, Any]] | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Send a command, wait for its answer; other messages go to *events*."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            reply = self._messages.get(timeout=timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if events is not None:
                events.append(reply)

    def wait_for(self, method: str, events: list[dict[str, Any]], timeout: float = 30) -> None:
        while not any(e.get("method") == method for e in events):
            events.append(self._messages.get(timeout=timeout))

    def open(
        self,
        path: Path,
        *,
        scripts: bool = True,
        screenshot: str | None = None,
        then: str | None = None,
        pdf: str | None = None,
    ) -> PageResult:
        """Load *path*; *then* is a JavaScript expression evaluated after load (its value
        becomes ``extra``), before the page is probed and photographed."""
        events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=session, events=events)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
                session=session,
                events=events,
            )
            if not scripts:
                self.send(
                    "Emulation.setScriptExecutionDisabled",
                    {"value": True},
                    session=session,
                    events=events,
                )
            url = path.resolve().as_uri()
            events.clear()
            self.send("Page.navigate", {"url": url}, session=session, events=events)
            self.wait_for("Page.loadEventFired", events)
            extra = None
            if then:
                extra = self.send(
                    "Runtime.evaluate",
                    {"expression": then, "returnByValue": True},
                    session=session,
                    events=events,
                )["result"].get("value")
            probe = self.send(
                "Runtime.evaluate",
                {
                    "expression": "JSON.stringify({title: document.title,"
                    " pwned: window.__pwned === undefined"
                    " ? null : String(window.__pwned), text: document.body.innerText})",
                    "returnByValue": True,
                },
                session=session,
                events=events,
            )
            state = json.loads(probe["result"]["value"])
            shot = None
            if screenshot:
                data = self.send(
                    "Page.captureScreenshot", {"format": "png"}, session=session, events=events
                )
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTIFACTS / screenshot
                shot.write_bytes(base64.b64decode(data["data"]))
            printed = b""
            if pdf:
                data = self.send("Page.printToPDF", {}, session=session, events=events)
                printed = base64.b64decode(data["data"])
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                (ARTIFACTS / pdf).write_bytes(printed)
        finally:
            self.send("Target.closeTarget", {"targetId": target}, events=events)
        mine = [e for e in events if e.get("sessionId") == session]
        requests = [
            e["params"]["request"]["url"]
            for e in mine
            if e.get("method") == "Network.requestWillBeSent"
        ]
        errors = [
            json.dumps(e["params"])[:500]
            for e in mine
            if e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
            or (
                e.get("method") == "Runtime.consoleAPICalled"
                and e["params"]["type"] in ("error", "assert")
            )
        ]
        console = [
            json.dumps(e["params"])[:300]
            for e in mine
            if e.get("method") == "Runtime.consoleAPICalled"
        ]
        return PageResult(
            url,
            state["title"],
            state["pwned"],
            state["text"],
            requests,
            errors,
            console,
            shot,
            extra,
            printed,
        )

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, queue.Empty, BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._in.close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    from tests.conftest import require_tool  # the repository-wide helper

    binary = require_tool("chromium")
    browser = Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.close()
