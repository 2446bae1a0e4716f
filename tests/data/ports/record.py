"""Re-record the nmap XML fixtures of this folder (needs nmap; loopback only).

    .venv/bin/python tests/data/ports/record.py

Each fixture is nmap's own ``-oX`` output against listeners started here, on
fixed ports so that tests/ports/test_nmapxml.py can name them.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
_spec = importlib.util.spec_from_file_location("port_lab", ROOT / "bench" / "ports" / "lab.py")
assert _spec and _spec.loader
lab_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_module)

BASE = ["nmap", "-oX", "-", "-sT", "-Pn", "-n"]


def ssh_banner_server(host: str, port: int) -> socket.socket:
    """Answer every connection with an OpenSSH banner, for nmap -sV to identify."""
    server = socket.create_server((host, port))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n")
                conn.settimeout(2)
                conn.recv(1024)
            except OSError:  # the port scan resets at once
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def record(name: str, args: list[str]) -> None:
    out = subprocess.run(BASE + args, capture_output=True, check=True).stdout
    (HERE / name).write_bytes(out)
    print(name, len(out), "bytes")


def main() -> int:
    with lab_module.Lab() as lab:
        # 127.0.32.1: two open ports, a mute one, a dropped one, the rest closed.
        for port in (80, 443):
            lab.open("127.0.32.1", port)
        lab.open("127.0.32.1", 50022)
        lab.mute("127.0.32.1", 8080)
        lab.dropped("127.0.32.1", 8081)
        record("connect.xml", ["-p", "1-1024,8080-8081,50000-50100", "127.0.32.1"])
        # 127.0.32.2: 30 dropped ports, so nmap folds them into <extraports>.
        for port in range(40100, 40130):
            lab.dropped("127.0.32.2", port)
        lab.open("127.0.32.2", 40130)
        record(
            "filtered.xml",
            ["-p", "40090-40140", "--max-rtt-timeout", "200ms", "--max-retries", "1", "127.0.32.2"],
        )
        # ::1 over IPv6.
        lab.open("::1", 50443)
        record("ipv6.xml", ["-6", "-p", "50440-50450", "::1"])
        # A host that ran out of --host-timeout.
        record("timedout.xml", ["--host-timeout", "1ms", "-p", "1-65535", "127.0.32.3"])
    # Version detection on an SSH banner.
    server = ssh_banner_server("127.0.32.4", 2222)
    try:
        record("versions.xml", ["-sV", "-p", "2222,2223", "127.0.32.4"])
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
