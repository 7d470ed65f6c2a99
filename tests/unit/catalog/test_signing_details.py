"""Signing and the parse cache, exactly: the canonical bytes, each refusal and hint, the
text a signature is cut from, key files, the signing command's output and exit codes,
and a cache that, once written, is read back (and hit) on every later load."""

from __future__ import annotations

import hashlib
import json
import locale
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lais_agent.catalog import registry
from lais_agent.catalog.registry import load_catalog
from lais_agent.catalog.signing import (
    KEYS_HINT,
    TrustedKeys,
    _cli,
    canonical_bytes,
    load_keys,
    sign_file,
    verify,
    without_signature,
    write_keypair,
)
from lais_agent.errors import InvalidArgs, InvalidConfig

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """A C locale: text files opened without an encoding would be read and written as ASCII."""
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        if "utf" in locale.getpreferredencoding(False).lower():  # pragma: no cover - UTF-8 mode
            pytest.skip("this interpreter reads files as UTF-8 whatever the locale")
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def _key(tmp_path: Path, key_id: str = "site") -> tuple[Ed25519PrivateKey, Path]:
    keys = tmp_path / "keys.d"
    keys.mkdir(exist_ok=True)
    key_file, _ = write_keypair(keys, key_id)
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    key_file.rename(tmp_path / key_file.name)  # only the public key stays in keys.d
    return private, keys


# ---------------------------------------------------------------- canonical form


def test_the_canonical_form_is_sorted_compact_utf8_json_without_the_signature() -> None:
    document = {"b": [1, 2.5], "a": "Rédis ✓", "signature": {"key_id": "k"}, "c": {"y": 1, "x": 2}}
    assert canonical_bytes(document) == ('{"a":"Rédis ✓","b":[1,2.5],"c":{"x":2,"y":1}}'.encode())


def test_not_a_number_has_no_canonical_form() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_bytes({"a": float("nan")})


# ---------------------------------------------------------------- verify


def _signed(private: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "localaistack.org/v1", "title": "Rédis"}
    import base64

    value = base64.b64encode(private.sign(canonical_bytes(doc))).decode()
    return {**doc, "signature": {"ed25519": value, "key_id": key_id}}


def test_a_signature_without_a_key_id_names_the_empty_id() -> None:
    private = Ed25519PrivateKey.generate()
    trusted = TrustedKeys({"k": private.public_key()}, {})
    doc = _signed(private, "k")
    del doc["signature"]["key_id"]
    with pytest.raises(InvalidConfig) as info:
        verify(doc, trusted, "m.yaml")
    assert str(info.value) == "m.yaml: signed with key '', which is not a trusted key"
    assert info.value.hint == KEYS_HINT


def test_a_signature_that_does_not_verify_says_how_to_fix_it() -> None:
    private = Ed25519PrivateKey.generate()
    trusted = TrustedKeys({"k": private.public_key()}, {})
    doc = _signed(private, "k")
    assert verify(doc, trusted, "m.yaml") == "k"
    with pytest.raises(InvalidConfig) as info:
        verify({**doc, "title": "Redis"}, trusted, "m.yaml")
    assert info.value.hint == (
        "sign it again (python3 -m lais_agent.catalog.signing sign) or restore it"
    )


# ---------------------------------------------------------------- the text signed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a block in the middle: the next key stays
        ("a: 1\nsignature:\n  ed25519: x\n  key_id: k\nb: 2\n", "a: 1\nb: 2\n"),
        # a one-line value, then more
        ("a: 1\nsignature: {ed25519: x, key_id: k}\nb: 2\n", "a: 1\nb: 2\n"),
        # at the very end, without a final newline
        ("a: 1\nsignature: {ed25519: x, key_id: k}", "a: 1\n"),
        ("a: 1\nsignature:\n  ed25519: x\n  key_id: k", "a: 1\n"),
        ("signature: x\nb: 2\n", "b: 2\n"),
        # trailing blank lines (with spaces too) and a closing '...'
        ("a: 1\n  \n \n", "a: 1\n"),
        ("a: 1\n\nb: 2\n", "a: 1\n\nb: 2\n"),
        ("a: 1\n...\n\n", "a: 1\n"),
        # what is kept is kept as it is: leading lines, trailing spaces, values ending in X
        ("\n\na: 1\n", "\n\na: 1\n"),
        ("a: 1   \n", "a: 1   \n"),
        ("a: XX\n", "a: XX\n"),
        ("a: 1", "a: 1\n"),
    ],
)
def test_the_signature_block_is_cut_and_nothing_else(text: str, expected: str) -> None:
    assert without_signature(text) == expected


@pytest.mark.parametrize("text", ["a: 1\n---\nb: 2\n", "- a\n- b\n"])
def test_only_one_mapping_can_be_signed(text: str) -> None:
    with pytest.raises(InvalidArgs) as info:
        without_signature(text)
    assert str(info.value) == "a manifest to sign must be one YAML document, a mapping"


def _manifest(tmp_path: Path, title: str = "Rédis") -> Path:
    catalog = tmp_path / "catalog"
    catalog.mkdir(exist_ok=True)
    path = catalog / "redis.yaml"
    text = (REPO / "catalog/redis.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("  title: Redis\n", f"  title: {title}\n", 1), encoding="utf-8")
    return path


def test_signing_writes_utf8_whatever_the_locale(tmp_path: Path, ascii_locale: None) -> None:
    private, keys = _key(tmp_path)
    path = _manifest(tmp_path)
    sign_file(path, private, "site")
    text = path.read_bytes().decode("utf-8")
    assert "  title: Rédis\n" in text
    assert registry.parse_manifest(text, "m.yaml", load_keys(keys))[1] == "site"


def test_the_signed_text_is_written_beside_the_manifest_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, _ = _key(tmp_path)
    path = _manifest(tmp_path)
    moves: list[tuple[str, str]] = []
    real = os.replace

    def replace(src: Any, dst: Any) -> None:
        moves.append((str(src), str(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    sign_file(path, private, "site")
    ((src, dst),) = moves
    assert dst == str(path)
    assert Path(src).parent == path.parent
    assert Path(src).name.startswith(".redis.yaml.")


# ---------------------------------------------------------------- key files


def _pub(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )


def test_blank_lines_and_comments_before_an_openssh_key_are_skipped(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    (tmp_path / "k.pub").write_bytes(b"\n# the site key\n\n" + _pub(private) + b" k\n")
    keys = load_keys(tmp_path)
    assert list(keys.keys) == ["k"]
    assert keys.sources == {"k": str(tmp_path / "k.pub")}


def test_a_pem_public_key_is_read(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "k.pub").write_bytes(pem)
    assert (
        load_keys(tmp_path).fingerprint()
        == TrustedKeys({"k": private.public_key()}, {}).fingerprint()
    )


def test_a_pem_key_after_a_blank_line_is_still_read_as_pem(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "k.pub").write_bytes(b"\n" + pem)
    assert list(load_keys(tmp_path).keys) == ["k"]


def test_an_empty_key_file_is_not_a_public_key(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_bytes(b"\n# nothing here\n")
    with pytest.raises(InvalidConfig) as info:
        load_keys(tmp_path)
    assert str(info.value).startswith(
        f"{tmp_path / 'k.pub'}: not a public key (an OpenSSH 'ssh-ed25519 ...' line or PEM): "
    )


def test_a_missing_directory_is_skipped_not_the_end(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    (tmp_path / "k.pub").write_bytes(_pub(private) + b" k\n")
    assert list(load_keys(tmp_path / "missing", tmp_path).keys) == ["k"]


def test_the_fingerprint_is_16_hex_digits_over_each_id_and_raw_key() -> None:
    a, b = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    expected = hashlib.sha256(
        b"a\0" + a.public_bytes(*raw) + b"b\0" + b.public_bytes(*raw)
    ).hexdigest()[:16]
    assert TrustedKeys({"b": b, "a": a}, {}).fingerprint() == expected


# ---------------------------------------------------------------- the signing command


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The help text, its spacing flattened (argparse aligns columns its own way)."""
    with pytest.raises(SystemExit) as info:
        _cli(argv)
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_the_command_explains_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    top = _help(["--help"], capsys)
    assert top.startswith(
        "usage: python3 -m lais_agent.catalog.signing [-h] {keygen,sign} ... "
        "Sign module manifests. "
    )
    assert (
        "{keygen,sign} keygen make KEY_ID.key (private) and KEY_ID.pub "
        "sign sign manifests in place with a private key "
    ) in top
    sign = _help(["sign", "--help"], capsys)
    assert "--key KEY KEY_ID.key (PEM, PKCS#8) " in sign
    assert "--key-id KEY_ID the id to record (default: the key file's name)" in sign
    keygen = _help(["keygen", "--help"], capsys)
    assert keygen.startswith("usage: python3 -m lais_agent.catalog.signing keygen [-h] key_id ")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ([], "the following arguments are required: command"),
        (["sign", "m.yaml"], "the following arguments are required: --key"),
    ],
)
def test_a_missing_argument_is_a_usage_error(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        _cli(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(error)


def test_keygen_says_what_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _cli(["keygen", "site-2027"]) == 0
    assert capsys.readouterr().out == (
        "wrote site-2027.key (keep it secret) and site-2027.pub (to trust)\n"
    )
    assert (tmp_path / "site-2027.key").is_file()
    assert (tmp_path / "site-2027.pub").is_file()


def test_sign_names_each_file_and_the_key_from_a_pem_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, keys = _key(tmp_path)
    pem = tmp_path / "site.pem"
    (tmp_path / "site.key").rename(pem)
    path = _manifest(tmp_path)
    assert _cli(["sign", "--key", str(pem), str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: signed with site\n"
    assert registry.parse_manifest(path.read_text(), "m.yaml", load_keys(keys))[1] == "site"


def test_a_failure_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _key(tmp_path)
    missing = tmp_path / "missing.yaml"
    assert _cli(["sign", "--key", str(tmp_path / "site.key"), str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"signing: [Errno 2] No such file or directory: '{missing}'\n"


# ---------------------------------------------------------------- the parse cache


def _shipped(tmp_path: Path) -> Path:
    path = _manifest(tmp_path)
    (path.parent / "python.yaml").write_text((REPO / "catalog/python.yaml").read_text())
    return path.parent


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def parse(*_: object, **__: object) -> Any:
        raise AssertionError("parsed again: the cache was not used")

    monkeypatch.setattr(registry, "parse_manifest", parse)


def test_a_cache_written_once_is_hit_on_every_later_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ascii_locale: None
) -> None:
    shipped = _shipped(tmp_path)
    cache = tmp_path / "var" / "cache" / "catalog.json"  # its directories do not exist yet
    first = load_catalog(shipped, tmp_path / "none", cache=cache)
    assert first.modules["redis"].metadata.title == "Rédis"
    data = json.loads(cache.read_text(encoding="utf-8"))
    assert set(data) == {"format", "schema", "keys", "entries"}
    assert sorted(data["entries"]) == [str(shipped / "python.yaml"), str(shipped / "redis.yaml")]
    for name, entry in data["entries"].items():
        st = Path(name).stat()
        assert set(entry) == {"stamp", "manifest", "signed_by"}
        assert entry["stamp"] == [st.st_size, st.st_mtime_ns]
        assert entry["signed_by"] is None
    _no_parsing(monkeypatch)
    for _ in range(2):  # the second load must not have spoilt the cache for the third
        again = load_catalog(shipped, tmp_path / "none", cache=cache)
        assert again.modules == first.modules
        assert again.sources == first.sources


def test_a_cached_signed_manifest_still_says_who_signed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, keys = _key(tmp_path)
    shipped = _shipped(tmp_path)
    sign_file(shipped / "redis.yaml", private, "site")
    cache = tmp_path / "catalog.json"
    trusted = load_keys(keys)
    assert load_catalog(shipped, tmp_path / "none", cache=cache, keys=trusted).signed_by == {
        "redis": "site"
    }
    entries = json.loads(cache.read_text())["entries"]
    assert entries[str(shipped / "redis.yaml")]["signed_by"] == "site"
    _no_parsing(monkeypatch)
    again = load_catalog(shipped, tmp_path / "none", cache=cache, keys=trusted)
    assert again.signed_by == {"redis": "site"}


def test_a_bad_manifest_is_named_by_its_path_with_a_cache(tmp_path: Path) -> None:
    shipped = _shipped(tmp_path)
    (shipped / "python.yaml").write_text("apiVersion: localaistack.org/v1\n")
    with pytest.raises(InvalidConfig) as info:
        load_catalog(shipped, tmp_path / "none", cache=tmp_path / "catalog.json")
    assert str(info.value).startswith(f"{shipped / 'python.yaml'}:1: ")


def test_the_cache_is_replaced_from_a_hidden_file_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = _shipped(tmp_path)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()  # the directory exists already
    cache = cache_dir / "catalog.json"
    moves: list[tuple[str, str]] = []
    real = os.replace

    def replace(src: Any, dst: Any) -> None:
        moves.append((str(src), str(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    load_catalog(shipped, tmp_path / "none", cache=cache)
    ((src, dst),) = moves
    assert dst == str(cache)
    assert Path(src).parent == cache_dir
    assert Path(src).name.startswith(".catalog-")
    assert set(json.loads(cache.read_text())["entries"]) == {
        str(shipped / "python.yaml"),
        str(shipped / "redis.yaml"),
    }


def test_a_cache_that_cannot_be_written_is_a_warning_naming_it_and_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shipped = _shipped(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = blocker / "catalog.json"
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        catalog = load_catalog(shipped, tmp_path / "none", cache=cache)
    assert sorted(catalog.modules) == ["python", "redis"]
    messages = [r.getMessage() for r in caplog.records if r.name == registry.__name__]
    assert messages == [
        f"cannot write the catalog cache {cache}: [Errno 17] File exists: '{blocker}'"
    ]
