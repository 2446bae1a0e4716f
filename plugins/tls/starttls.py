"""In-band upgrades to TLS: SMTP, IMAP, POP3, FTP, LDAP and PostgreSQL.

Each function below speaks one protocol's plain-text opening on a fresh
connection until the server says "go ahead with TLS"; the connection then
carries the probe's ClientHello like any HTTPS one. Every read is bounded
(one line at most ``MAX_LINE`` bytes, at most ``MAX_LINES`` lines per reply,
an LDAP answer at most ``MAX_LDAP`` bytes) and the caller bounds the whole
exchange with its timeout. A server that does not offer or refuses the
upgrade raises :class:`Refused`, with what it said (quoted, shortened).

The dialogues (RFC 3207 SMTP, RFC 2595 IMAP/POP3, RFC 4217 FTP, RFC 4511
section 4.14 LDAP, the PostgreSQL SSLRequest):

* ``smtp``/``submission``: greeting ``220``, ``EHLO``, ``250-STARTTLS`` in
  the answer, ``STARTTLS`` answered ``220``;
* ``imap``: greeting ``* OK``, ``a1 STARTTLS`` answered ``a1 OK``;
* ``pop3``: greeting ``+OK``, ``STLS`` answered ``+OK``;
* ``ftp``: greeting ``220``, ``AUTH TLS`` answered ``234``;
* ``ldap``: an ExtendedRequest for OID 1.3.6.1.4.1.1466.20037 answered by an
  ExtendedResponse with resultCode 0 (success);
* ``postgres``: the 8-byte SSLRequest answered ``S``.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

from scanner.models import CollectFailed, PluginReason

REFUSED = PluginReason("starttls_refused")
REASONS = {REFUSED: "the server did not offer, or refused, the in-band upgrade to TLS (STARTTLS)"}

MAX_LINE = 4096
MAX_LINES = 64
MAX_LDAP = 4096
CLIENT_NAME = "civiscan.invalid"  # RFC 6761: a name that is never anyone's
LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
POSTGRES_SSL_REQUEST = struct.pack("!II", 8, 80877103)


class Refused(CollectFailed):
    """The server would not switch to TLS."""

    def __init__(self, protocol: str, said: bytes | str) -> None:
        text = said if isinstance(said, str) else f"answered {_excerpt(said)}"
        super().__init__(REFUSED, f"{protocol}: no STARTTLS: the server {text}")


def _excerpt(data: bytes) -> str:
    text = data.decode("ascii", "replace").strip()
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


async def _line(reader: asyncio.StreamReader, protocol: str) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise Refused(protocol, exc.partial) from None
        raise Refused(protocol, "closed the connection") from None
    except asyncio.LimitOverrunError:
        raise Refused(protocol, f"sent a line longer than {MAX_LINE} bytes") from None
    return line


async def _reply(reader: asyncio.StreamReader, protocol: str) -> list[bytes]:
    """A multi-line SMTP/FTP reply: ``NNN-text`` lines up to the ``NNN text`` one."""
    lines: list[bytes] = []
    while len(lines) < MAX_LINES:
        line = await _line(reader, protocol)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines
    raise Refused(protocol, f"sent a reply of more than {MAX_LINES} lines")


def _code(lines: list[bytes]) -> bytes:
    return lines[-1][:3]


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               protocol: str = "smtp") -> None:
    greeting = await _reply(reader, protocol)
    if _code(greeting) != b"220":
        raise Refused(protocol, greeting[-1])
    await _send(writer, f"EHLO {CLIENT_NAME}\r\n".encode())
    ehlo = await _reply(reader, protocol)
    if _code(ehlo) != b"250":
        raise Refused(protocol, ehlo[-1])
    if not any(line[4:].strip().upper() == b"STARTTLS" for line in ehlo):
        raise Refused(protocol, "does not list STARTTLS in its EHLO answer")
    await _send(writer, b"STARTTLS\r\n")
    answer = await _reply(reader, protocol)
    if _code(answer) != b"220":
        raise Refused(protocol, answer[-1])


async def imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader, "imap")
    if not greeting.upper().startswith(b"* OK"):
        raise Refused("imap", greeting)
    await _send(writer, b"a1 STARTTLS\r\n")
    for _ in range(MAX_LINES):
        line = await _line(reader, "imap")
        if line.startswith(b"a1 "):
            if line[3:5].upper() != b"OK":
                raise Refused("imap", line)
            return
    raise Refused("imap", f"sent more than {MAX_LINES} lines before answering STARTTLS")


async def pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line(reader, "pop3")
    if not greeting.startswith(b"+OK"):
        raise Refused("pop3", greeting)
    await _send(writer, b"STLS\r\n")
    answer = await _line(reader, "pop3")
    if not answer.startswith(b"+OK"):
        raise Refused("pop3", answer)


async def ftp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _reply(reader, "ftp")
    if _code(greeting) != b"220":
        raise Refused("ftp", greeting[-1])
    await _send(writer, b"AUTH TLS\r\n")
    answer = await _reply(reader, "ftp")
    if _code(answer) != b"234":
        raise Refused("ftp", answer[-1])


def ldap_request(message_id: int = 1) -> bytes:
    """The LDAPMessage carrying the StartTLS ExtendedRequest (BER, definite lengths)."""
    name = b"\x80" + bytes([len(LDAP_STARTTLS_OID)]) + LDAP_STARTTLS_OID  # [0] requestName
    op = b"\x77" + bytes([len(name)]) + name  # [APPLICATION 23] ExtendedRequest
    body = b"\x02\x01" + bytes([message_id]) + op
    return b"\x30" + bytes([len(body)]) + body


def _ber(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the BER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise ValueError("unsupported length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, pos, pos + length


def ldap_result(data: bytes) -> int | None:
    """The resultCode of a complete LDAP ExtendedResponse; None while more bytes are needed.

    Raises ValueError on anything that is not an ExtendedResponse.
    """
    try:
        tag, start, end = _ber(data, 0)
    except ValueError:
        if len(data) < 6:
            return None
        raise
    if tag != 0x30:
        raise ValueError("not an LDAPMessage")
    if end > len(data):
        return None
    tag, _, pos = _ber(data, start)  # messageID
    tag, start, _ = _ber(data, pos)
    if tag != 0x78:  # [APPLICATION 24] ExtendedResponse
        raise ValueError(f"protocol op 0x{tag:02x}, not an ExtendedResponse")
    tag, start, rend = _ber(data, start)
    if tag != 0x0A or not 1 <= rend - start <= 4:
        raise ValueError("no resultCode")
    return int.from_bytes(data[start:rend], "big")


async def ldap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _send(writer, ldap_request())
    data = b""
    while True:
        chunk = await reader.read(MAX_LDAP - len(data))
        if not chunk:
            raise Refused("ldap", "closed the connection" if not data else data)
        data += chunk
        try:
            code = ldap_result(data)
        except ValueError as exc:
            raise Refused("ldap", f"sent no StartTLS answer ({exc})") from None
        if code is not None:
            break
        if len(data) >= MAX_LDAP:
            raise Refused("ldap", f"sent an answer longer than {MAX_LDAP} bytes")
    if code != 0:
        raise Refused("ldap", f"answered StartTLS with resultCode {code}")


async def postgres(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _send(writer, POSTGRES_SSL_REQUEST)
    answer = await reader.read(1)
    if answer != b"S":
        raise Refused("postgres", "closed the connection" if not answer else
                      f"answered the SSLRequest with {answer!r}, not 'S'")


async def _submission(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await smtp(reader, writer, "submission")


Upgrade = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

UPGRADES: dict[str, Upgrade] = {
    "smtp": smtp,
    "submission": _submission,
    "imap": imap,
    "pop3": pop3,
    "ftp": ftp,
    "ldap": ldap,
    "postgres": postgres,
}
"""The endpoint URL schemes that start in plain text, and how each upgrades."""


async def upgrade(protocol: str, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    """Switch a fresh connection to TLS the ``protocol`` way; raises :class:`Refused`."""
    await UPGRADES[protocol](reader, writer)


__all__ = ["MAX_LINE", "REASONS", "REFUSED", "UPGRADES", "Refused", "ldap_request",
           "ldap_result", "upgrade"]
