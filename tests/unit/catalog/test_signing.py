"""Manifest signatures (ed25519): signed manifests verify, changed ones are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from lais_agent.catalog.registry import load_catalog, parse_manifest
from lais_agent.catalog.signing import _cli, load_keys, write_keypair
from lais_agent.errors import InvalidConfig

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the redis manifest signed with a new key 'site-2026'; (manifest, keys dir)."""
    keys = tmp_path / "keys.d"
    keys.mkdir()
    write_keypair(keys, "site-2026")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    manifest = catalog / "redis.yaml"
    manifest.write_text((REPO / "catalog/redis.yaml").read_text())
    assert _cli(["sign", "--key", str(keys / "site-2026.key"), str(manifest)]) == 0
    (keys / "site-2026.key").rename(tmp_path / "site-2026.key")  # only the public key is trusted
    return manifest, keys


def test_a_signed_manifest_verifies_and_says_by_whom(signed: tuple[Path, Path]) -> None:
    manifest, keys = signed
    assert (keys.parent / "site-2026.key").stat().st_mode & 0o777 == 0o600
    text = manifest.read_text()
    assert "signature:\n  ed25519: " in text
    assert text.endswith("  key_id: site-2026\n")
    _, by = parse_manifest(text, str(manifest), load_keys(keys))
    assert by == "site-2026"
    catalog = load_catalog(manifest.parent, Path("/none"), keys=load_keys(keys))
    assert catalog.signed_by == {"redis": "site-2026"}
    # comments and layout are not signed, values are
    reformatted = "# a comment an admin added\n" + text.replace(
        "disk_gib: 0.1}", "disk_gib:   0.10 }"
    )
    assert parse_manifest(reformatted, "m.yaml", load_keys(keys))[1] == "site-2026"


def test_keygen_never_overwrites_a_private_key(tmp_path: Path) -> None:
    write_keypair(tmp_path, "k")
    with pytest.raises(FileExistsError):
        write_keypair(tmp_path, "k")


def test_signing_again_replaces_the_old_signature(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    manifest, keys = signed
    key = tmp_path / "site-2026.key"
    assert _cli(["sign", "--key", str(key), str(manifest)]) == 0
    assert manifest.read_text().count("signature:") == 1
    assert parse_manifest(manifest.read_text(), "m.yaml", load_keys(keys))[1] == "site-2026"


def test_a_changed_value_is_refused_naming_the_file(signed: tuple[Path, Path]) -> None:
    manifest, keys = signed
    tampered = manifest.read_text().replace("disk_gib: 0.1", "disk_gib: 0.2", 1)
    assert tampered != manifest.read_text()
    with pytest.raises(InvalidConfig) as info:
        parse_manifest(tampered, "site/redis.yaml", load_keys(keys))
    assert str(info.value) == (
        "site/redis.yaml: the signature by key 'site-2026' does not verify: the manifest was "
        "changed after it was signed, or signed with another key"
    )


def test_an_untrusted_key_is_refused_with_what_to_do(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    manifest, _ = signed
    with pytest.raises(InvalidConfig) as info:
        parse_manifest(manifest.read_text(), "m.yaml", load_keys(tmp_path / "empty"))
    assert "signed with key 'site-2026', which is not a trusted key" in str(info.value)
    assert info.value.hint is not None
    assert "/etc/localaistack/keys.d/" in info.value.hint


def test_removing_a_key_is_not_hidden_by_the_parse_cache(signed: tuple[Path, Path]) -> None:
    manifest, keys = signed
    cache = manifest.parent.parent / "cache.json"
    trusted = load_keys(keys)
    assert load_catalog(manifest.parent, Path("/none"), cache=cache, keys=trusted).signed_by
    with pytest.raises(InvalidConfig, match="not a trusted key"):
        load_catalog(manifest.parent, Path("/none"), cache=cache, keys=load_keys(keys / "x"))


def test_unsigned_manifests_stay_accepted() -> None:
    catalog = load_catalog(REPO / "catalog", Path("/none"))
    assert catalog.signed_by == {}
    assert len(catalog.modules) == 31


def test_bad_key_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "junk.pub").write_text("not a key\n")
    with pytest.raises(InvalidConfig, match=r"junk\.pub: not a public key"):
        load_keys(tmp_path)
    (tmp_path / "junk.pub").unlink()
    rsa = generate_private_key(public_exponent=65537, key_size=2048).public_key()
    (tmp_path / "rsa.pub").write_bytes(
        rsa.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(InvalidConfig, match=r"rsa\.pub: is not an ed25519 key"):
        load_keys(tmp_path)
    (tmp_path / "rsa.pub").unlink()
    (tmp_path / "bad id!.pub").write_text("x")
    with pytest.raises(InvalidConfig, match="is not a key id"):
        load_keys(tmp_path)


def test_signed_manifests_hold_plain_values_only(signed: tuple[Path, Path]) -> None:
    manifest, keys = signed
    text = manifest.read_text().replace("  title: Redis\n", "  title: !!binary UmVkaXM=\n", 1)
    assert "!!binary" in text
    with pytest.raises(InvalidConfig, match="a signed manifest may hold only plain values"):
        parse_manifest(text, "m.yaml", load_keys(keys))


def test_aliases_cannot_blow_a_manifest_up() -> None:
    from lais_agent.catalog.signing import NO_KEYS
    from lais_agent.control.manifests import check_manifest

    bomb = "a: &a [" + ", ".join(["x"] * 500) + "]\nb: &b [" + ", ".join(["*a"] * 500) + "]\n"
    result = check_manifest(bomb, "bomb.yaml", NO_KEYS)
    assert not result.valid
    assert result.error is not None
    assert "bomb.yaml: more than 100,000 values once its aliases are expanded" in result.error


def test_unreadable_values_are_invalid_config_not_internal_errors() -> None:
    from lais_agent.catalog.signing import NO_KEYS
    from lais_agent.control.manifests import check_manifest

    result = check_manifest(
        "apiVersion: localaistack.org/v1\nwhen: 2001-13-45\n", "d.yaml", NO_KEYS
    )
    assert not result.valid
    assert result.error is not None
    assert result.error.startswith("d.yaml: a value cannot be read: month must be in 1..12")


def test_signing_keeps_the_file_sane(signed: tuple[Path, Path], tmp_path: Path) -> None:
    """A closing '...', a comment inside an old signature, the mode, a symlink, --key-id."""
    manifest, keys = signed
    key = tmp_path / "site-2026.key"
    text = manifest.read_text().replace("  key_id: site-2026\n", "# old\n  key_id: site-2026\n")
    manifest.write_text(text + "...\n")
    manifest.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(manifest)
    assert _cli(["sign", "--key", str(key), "--key-id", "site-2026", str(link)]) == 0
    assert link.is_symlink()
    assert manifest.stat().st_mode & 0o777 == 0o640
    result = manifest.read_text()
    assert result.count("signature:") == 1
    assert "# old" not in result
    assert "..." not in result
    assert parse_manifest(result, "m.yaml", load_keys(keys))[1] == "site-2026"
    assert not list(manifest.parent.glob(".redis.yaml.*"))  # no temporary file left


def test_signing_refuses_several_documents(tmp_path: Path) -> None:
    write_keypair(tmp_path, "k")
    two = tmp_path / "two.yaml"
    two.write_text("a: 1\n---\nb: 2\n")
    assert _cli(["sign", "--key", str(tmp_path / "k.key"), str(two)]) == 2
    assert two.read_text() == "a: 1\n---\nb: 2\n"
