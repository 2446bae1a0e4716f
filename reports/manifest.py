"""Integrity of a rendered report set: a SHA-256 manifest, optionally signed.

``manifest.json`` lists every file one render wrote (relative path, size,
SHA-256). With a signing key, ``manifest.sig`` holds the base64 Ed25519
signature of the manifest's exact bytes, and the manifest embeds the public
key. :func:`verify` recomputes every hash and names each altered, missing or
extra file.

An embedded key proves the set is unchanged since it was signed, not who
signed it: anyone can re-sign an edited set with a new key. For authenticity
pass the public key you trust to :func:`verify`; the result reports the
fingerprint of the key that verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.fsutil import atomic_write

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SCHEMA = "civiscan/manifest"
SCHEMA_VERSION = 1

SignatureState = Literal["valid", "invalid", "absent"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted PEM Ed25519 private key (guard it with file permissions)."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        # A wrong key file is bad input, like an unreadable one: same exception.
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM Ed25519 public key, or the public half of a PEM private key."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def generate_signing_key(path: Path) -> Path:
    """Write a new private key to *path* (mode 0600) and its public key beside it.

    Returns the public key's path (``<path>.pub``).
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL: never replaces a key, and fails on any name already there, a planted link too.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = path.with_name(path.name + ".pub")
    atomic_write(
        public,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return public


def write(
    outdir: Path,
    files: Iterable[Path],
    *,
    run_id: Any,
    tool_version: str,
    created: datetime,
    key: Ed25519PrivateKey | None = None,
) -> list[Path]:
    """Write the manifest (and signature) for *files*; return the paths written."""
    entries = {}
    for path in sorted(set(files)):
        rel = path.relative_to(outdir).as_posix()
        entries[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "tool_version": tool_version,
        "created": created.isoformat(),
        "files": entries,
        "public_key": None,
    }
    if key is not None:
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        manifest["public_key"] = {
            "algorithm": "ed25519",
            "key": base64.b64encode(raw).decode(),
            "fingerprint": key_fingerprint(key.public_key()),
        }
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    written = [outdir / MANIFEST]
    atomic_write(outdir / MANIFEST, body)
    signature_path = outdir / SIGNATURE
    if key is not None:
        atomic_write(signature_path, base64.b64encode(key.sign(body)) + b"\n")
        written.append(signature_path)
    elif signature_path.exists():
        # A signature left by an earlier render would not match this manifest.
        signature_path.unlink()
    return written


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    signature: SignatureState = "absent"
    key_fingerprint: str | None = None
    messages: list[str] = field(default_factory=list)


def _check_signature(
    body: bytes, manifest: dict[str, Any], signature_path: Path, public_key: Path | None
) -> tuple[SignatureState, str | None, str]:
    if not signature_path.exists():
        return "absent", None, "the manifest is not signed"
    try:
        signature = base64.b64decode(signature_path.read_bytes().strip(), validate=True)
    except ValueError:
        return "invalid", None, f"{SIGNATURE} is not base64"
    if public_key is not None:
        key = load_public_key(public_key)
        source = f"the given public key {public_key}"
    else:
        embedded = manifest.get("public_key") or {}
        try:
            key = Ed25519PublicKey.from_public_bytes(
                base64.b64decode(embedded.get("key", ""), validate=True)
            )
        except ValueError:
            return "invalid", None, "the manifest embeds no usable public key; pass one to verify"
        source = (
            "the public key embedded in the manifest "
            "(integrity only: pass a trusted key to prove who signed)"
        )
    fingerprint = key_fingerprint(key)
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return "invalid", fingerprint, f"the signature does not match the manifest under {source}"
    return "valid", fingerprint, f"signature valid under {source}, key {fingerprint}"


def verify(outdir: Path, public_key: Path | None = None) -> VerifyResult:
    """Check *outdir* against its manifest: every hash, every file, the signature.

    ``ok`` is true when nothing is altered, missing or extra, the signature is
    not invalid, and, if *public_key* was given, the signature is present and valid.
    """
    outdir = Path(outdir)
    manifest_path = outdir / MANIFEST
    if not manifest_path.is_file():
        return VerifyResult(ok=False, missing=[MANIFEST], messages=[f"no {MANIFEST} in {outdir}"])
    body = manifest_path.read_bytes()
    try:
        manifest = json.loads(body)
        files: dict[str, Any] = manifest["files"]
    except (ValueError, KeyError, TypeError):
        return VerifyResult(
            ok=False, altered=[MANIFEST], messages=[f"{MANIFEST} is not a civiscan manifest"]
        )
    altered, missing, messages = [], [], []
    root = outdir.resolve()
    for rel, entry in sorted(files.items()):
        path = (outdir / rel).resolve()
        if root not in path.parents:  # a manifest may not vouch for files outside its folder
            altered.append(rel)
            messages.append(f"{rel}: path leaves the report folder")
        elif not path.is_file():
            missing.append(rel)
            messages.append(f"{rel}: missing")
        elif sha256_file(path) != entry.get("sha256"):
            altered.append(rel)
            messages.append(f"{rel}: content changed (SHA-256 differs)")
    present = {p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if p.is_file()}
    extra = sorted(present - set(files) - {MANIFEST, SIGNATURE})
    messages += [f"{rel}: not listed in the manifest" for rel in extra]
    signature, fingerprint, note = _check_signature(body, manifest, outdir / SIGNATURE, public_key)
    messages.append(note)
    ok = (
        not altered
        and not missing
        and not extra
        and signature != "invalid"
        and (public_key is None or signature == "valid")
    )
    return VerifyResult(ok, altered, missing, extra, signature, fingerprint, messages)
