"""Manifest signatures: ed25519 over a canonical form of the document.

What is signed is the manifest's data as parsed from YAML, without its top-level
``signature`` key, written as canonical JSON (keys sorted, no spaces, UTF-8).
Comments, key order and YAML style may change; any value may not.

Trusted public keys are files ``<key-id>.pub`` (OpenSSH ``ssh-ed25519 ...`` lines
or PEM) in /usr/share/localaistack/keys/ and /etc/localaistack/keys.d/; the
manifest's ``signature.key_id`` names one. A signed manifest whose signature does
not verify, or names no trusted key, is rejected; an unsigned one is accepted.

Signing is done where the private key lives, never by the agent::

    python3 -m lais_agent.catalog.signing keygen site-2026       # site-2026.key, .pub
    python3 -m lais_agent.catalog.signing sign --key site-2026.key my-module.yaml
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lais_agent.errors import InvalidArgs, InvalidConfig, LaisError

KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEYS_HINT = (
    "trust a key by copying its <key-id>.pub to /etc/localaistack/keys.d/, then `laisctl reload`"
)


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the document without ``signature``, canonical JSON."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class TrustedKeys:
    keys: dict[str, Ed25519PublicKey]
    sources: dict[str, str]  # key id -> file

    def fingerprint(self) -> str:
        """Changes whenever the set of trusted keys does (cached verdicts depend on it)."""
        digest = hashlib.sha256()
        for key_id in sorted(self.keys):
            raw = self.keys[key_id].public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            digest.update(key_id.encode() + b"\0" + raw)
        return digest.hexdigest()[:16]


NO_KEYS = TrustedKeys({}, {})


def _load_public(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidConfig(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key: object = serialization.load_pem_public_key(data)
        else:  # one "ssh-ed25519 AAAA... comment" line; '#' lines are comments
            lines = [ln for ln in data.splitlines() if ln.strip() and not ln.startswith(b"#")]
            key = serialization.load_ssh_public_key(lines[0].strip() if lines else b"")
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise InvalidConfig(
            f"{path}: not a public key (an OpenSSH 'ssh-ed25519 ...' line or PEM): {exc}"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidConfig(f"{path}: is not an ed25519 key; manifests are signed with ed25519")
    return key


def load_keys(*directories: Path) -> TrustedKeys:
    """Keys of later directories replace those of earlier ones with the same id."""
    keys: dict[str, Ed25519PublicKey] = {}
    sources: dict[str, str] = {}
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.pub")):
            if not KEY_ID.match(path.stem):
                raise InvalidConfig(
                    f"{path}: {path.stem!r} is not a key id (letters, digits, '.', '_', '-')"
                )
            keys[path.stem] = _load_public(path)
            sources[path.stem] = str(path)
    return TrustedKeys(keys, sources)


def verify(document: Mapping[str, Any], keys: TrustedKeys, source: str) -> str | None:
    """The id of the key that signed ``document``; None when it is unsigned.
    Raises InvalidConfig naming the file when a signature is present and does not verify."""
    signature = document.get("signature")
    if signature is None:
        return None
    key_id = str(signature.get("key_id", ""))
    key = keys.keys.get(key_id)
    if key is None:
        raise InvalidConfig(
            f"{source}: signed with key {key_id!r}, which is not a trusted key", hint=KEYS_HINT
        )
    try:
        signed = canonical_bytes(document)
    except (TypeError, ValueError) as exc:  # binary, sets, dates, NaN: no canonical form
        raise InvalidConfig(
            f"{source}: a signed manifest may hold only plain values (strings, numbers, "
            f"booleans, lists, mappings): {exc}"
        ) from None
    try:
        key.verify(base64.b64decode(str(signature.get("ed25519", ""))), signed)
    except (InvalidSignature, binascii.Error, ValueError):
        raise InvalidConfig(
            f"{source}: the signature by key {key_id!r} does not verify: the manifest was "
            "changed after it was signed, or signed with another key",
            hint="sign it again (python3 -m lais_agent.catalog.signing sign) or restore it",
        ) from None
    return key_id


def signature_for(document: Mapping[str, Any], private: Ed25519PrivateKey, key_id: str) -> str:
    """The YAML ``signature:`` block to put at the end of the manifest."""
    if not KEY_ID.match(key_id):
        raise InvalidArgs(f"{key_id!r} is not a key id (letters, digits, '.', '_', '-')")
    value = base64.b64encode(private.sign(canonical_bytes(document))).decode()
    return f"signature:\n  ed25519: {value}\n  key_id: {key_id}\n"


def write_keypair(directory: Path, key_id: str) -> tuple[Path, Path]:
    """A new key pair: ``KEY_ID.key`` (PEM, mode 0600, never overwritten) and ``KEY_ID.pub``."""
    if not KEY_ID.match(key_id):
        raise InvalidArgs(f"{key_id!r} is not a key id (letters, digits, '.', '_', '-')")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    key_file, pub_file = directory / f"{key_id}.key", directory / f"{key_id}.pub"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    pub_file.write_bytes(pub + f" {key_id}\n".encode())
    return key_file, pub_file


def without_signature(text: str) -> str:
    """The manifest text without its top-level ``signature`` block (found by the parser,
    comments inside it included) and without a closing ``...``, ending in one newline."""
    import yaml  # noqa: PLC0415 - only signing needs the node positions

    documents = list(yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    if len(documents) != 1 or not isinstance(documents[0], yaml.MappingNode):
        raise InvalidArgs("a manifest to sign must be one YAML document, a mapping")
    lines = text.splitlines(keepends=True)
    for key, value in documents[0].value:
        if key.value == "signature":
            end = value.end_mark.line + (1 if value.end_mark.column else 0)
            del lines[key.start_mark.line : end]
            break
    while lines and (not lines[-1].strip() or lines[-1].strip() == "..."):
        lines.pop()
    return "".join(lines).rstrip("\n") + "\n"


def sign_file(path: Path, private: Ed25519PrivateKey, key_id: str) -> None:
    """Sign a manifest in place: replace its signature, check that the result verifies,
    then swap it in atomically (same permissions; a symlink's target is what changes)."""
    from lais_agent import yamlload  # noqa: PLC0415

    target = path.resolve()
    text = without_signature(target.read_text(encoding="utf-8"))
    signed = text + signature_for(yamlload.load(text), private, key_id)
    trusted = TrustedKeys({key_id: private.public_key()}, {})
    if verify(yamlload.load(signed), trusted, str(path)) != key_id:
        raise InvalidArgs(f"{path}: the signed text does not verify; it was left unchanged")
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(signed)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m lais_agent.catalog.signing", description="Sign module manifests."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("keygen", help="make KEY_ID.key (private) and KEY_ID.pub")
    gen.add_argument("key_id")
    sign = sub.add_parser("sign", help="sign manifests in place with a private key")
    sign.add_argument("--key", required=True, type=Path, help="KEY_ID.key (PEM, PKCS#8)")
    sign.add_argument("--key-id", help="the id to record (default: the key file's name)")
    sign.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            key_file, pub_file = write_keypair(Path.cwd(), args.key_id)
            print(f"wrote {key_file.name} (keep it secret) and {pub_file.name} (to trust)")
            return 0
        loaded = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise InvalidArgs(f"{args.key}: not an ed25519 private key")
        key_id = args.key_id or args.key.name.removesuffix(".key").removesuffix(".pem")
        for path in args.files:
            sign_file(path, loaded, key_id)
            print(f"{path}: signed with {key_id}")
    except (LaisError, OSError, ValueError) as exc:
        print(f"signing: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
