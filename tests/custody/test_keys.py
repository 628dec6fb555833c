"""Analyst key pairs: passphrase protection, file safety, Ed25519 signatures."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gcms.custody.keys import (
    fingerprint,
    load_public_key,
    load_signing_key,
    new_key_pair,
    verify_signature,
)
from gcms.errors import CustodyError

PASSPHRASE = "correct horse battery"


def test_new_key_pair_files_and_signatures(tmp_path):
    key_path, pub_path, key = new_key_pair(tmp_path, "jdoe", PASSPHRASE)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    text = key_path.read_text()
    assert "-----BEGIN ENCRYPTED PRIVATE KEY-----" in text and "PRIVATE KEY-----" in text
    assert "BEGIN PRIVATE KEY" not in text
    raw = load_public_key(pub_path)
    assert raw == key.public_raw and len(raw) == 32
    assert key.fingerprint == fingerprint(raw)
    # the unlocked key signs; cryptography verifies independently
    reloaded = load_signing_key(key_path, PASSPHRASE)
    signature = base64.b64decode(reloaded.sign(b"message"))
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, b"message")
    assert verify_signature(key.public_b64, b"message", reloaded.sign(b"message"))
    assert not verify_signature(key.public_b64, b"other", reloaded.sign(b"message"))
    assert not verify_signature(key.public_b64, b"message", "not base64!")
    assert PASSPHRASE not in repr(reloaded)


def test_wrong_passphrase_short_passphrase_and_overwrite_are_refused(tmp_path):
    key_path, _, _ = new_key_pair(tmp_path, "jdoe", PASSPHRASE)
    with pytest.raises(CustodyError, match="wrong passphrase"):
        load_signing_key(key_path, "not the passphrase")
    with pytest.raises(CustodyError, match="at least 8 characters"):
        new_key_pair(tmp_path, "short", "1234567")
    with pytest.raises(CustodyError, match="never overwritten"):
        new_key_pair(tmp_path, "jdoe", PASSPHRASE)


def test_the_pkcs8_password_is_the_scrypt_stretched_passphrase(tmp_path):
    import hashlib

    key_path, _, key = new_key_pair(tmp_path, "jdoe", PASSPHRASE)
    first, _, pem = key_path.read_bytes().partition(b"\n")
    fields = dict(item.split("=") for item in first.decode().split()[2:])
    derived = hashlib.scrypt(PASSPHRASE.encode(), salt=bytes.fromhex(fields["salt"]),
                             n=int(fields["n"]), r=int(fields["r"]), p=int(fields["p"]),
                             maxmem=1 << 28, dklen=32)
    private = serialization.load_pem_private_key(pem, password=base64.b64encode(derived))
    assert private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw) == key.public_raw
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=PASSPHRASE.encode())


def test_keys_from_other_tools(tmp_path):
    private = Ed25519PrivateKey.generate()
    plain = tmp_path / "plain.key"
    plain.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    with pytest.raises(CustodyError, match="not passphrase-protected"):
        load_signing_key(plain, PASSPHRASE)
    other = tmp_path / "other.key"
    other.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    assert load_signing_key(other, PASSPHRASE).public_raw == private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    doctored = tmp_path / "doctored.key"
    doctored.write_bytes(b"gcms-key-kdf: scrypt n=1073741824 r=8 p=1 salt=00\n"
                         + other.read_bytes())
    with pytest.raises(CustodyError, match="beyond what gcms writes"):
        load_signing_key(doctored, PASSPHRASE)
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(os.urandom(64))
    with pytest.raises(CustodyError, match="not a PEM public key"):
        load_public_key(garbage)
