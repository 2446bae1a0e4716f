"""No message ever carries another department's assets or findings."""

from __future__ import annotations

from scanner.notify import send_for_run
from tests.notify.conftest import config, department, record_run

BEFORE = {
    "parks/parks-web": {"tls.modern": "pass"},
    "parks/parks-db": {"ports.allowed": "pass"},
    "records/records-vault": {"tls.modern": "pass"},
    "records/records-archive": {"ports.allowed": "pass"},
}
AFTER = {
    "parks/parks-web": {"tls.modern": "fail"},
    "parks/parks-db": {"ports.allowed": "pass"},
    "records/records-vault": {"tls.modern": "fail"},
    "records/records-archive": {"ports.allowed": "pass"},
}
OWN = {"parks": ("parks-web", "parks-db"), "records": ("records-vault", "records-archive")}


def _markers(name: str) -> list[bytes]:
    """Every way a department's assets could appear in a message: ids, names, titles."""
    out = [f"{name}/".encode(), name.title().encode() + b" Department"]
    for asset in OWN[name]:
        out.append(asset.encode())
    return out


def test_each_department_hears_only_of_its_own_assets(store, webhook, smtp_server, tmp_path):
    for dept in OWN:
        (tmp_path / dept).mkdir()
        (tmp_path / dept / "report.html").write_text(f"<p>{' '.join(OWN[dept])}</p>")
    record_run(store, BEFORE, unreachable=[])
    run = record_run(store, AFTER, unreachable=["parks/parks-db", "records/records-archive"])
    text = (
        "notifications:\n  allow_networks: [127.0.0.0/8]\n  notify_when: always\n"
        f"  attach_report: '{tmp_path}/{{department}}/report.html'\n"
        + smtp_server.block()
    )
    departments = [
        department("parks", emails=["parks@city.example"], hooks=[webhook.url + "?d=parks"]),
        department("records", emails=["records@city.example"], hooks=[webhook.url + "?d=records"]),
    ]
    report = send_for_run(store, run, config(text), departments=departments)
    assert report.sent == 4, report
    hooks = {r.path.split("=")[1]: r.body for r in webhook.received}
    mails = {str(m["To"]).split("@")[0]: m.as_bytes() for m in smtp_server.messages}
    assert set(hooks) == set(mails) == {"parks", "records"}
    for own, other in (("parks", "records"), ("records", "parks")):
        for message in (hooks[own], mails[own]):
            assert all(m in message for m in _markers(own)[2:]), own  # its own changes are there
            assert not any(m in message for m in _markers(other)), (own, other)


def test_the_security_office_gets_every_department(store, webhook):
    record_run(store, BEFORE)
    run = record_run(store, AFTER)
    text = f"notifications:\n  allow_networks: [127.0.0.0/8]\n  security_office:\n    webhook: [{{url: '{webhook.url}', secret_env: NOTIFY_SECRET}}]\n"
    send_for_run(store, run, config(text), departments=[department("parks"), department("records")])
    [got] = webhook.received
    document = got.json()
    assert document["audience"]["kind"] == "security_office"
    assert {e["asset"]["id"] for e in document["events"]} == {"parks/parks-web", "records/records-vault"}
