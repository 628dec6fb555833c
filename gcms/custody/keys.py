"""Analyst signing keys: Ed25519 key pairs, passphrase-protected private keys.

A key pair is two files: ``USER.key``, the private key as PKCS#8 PEM encrypted with
``BestAvailableEncryption`` (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC), written with mode
0600 and never overwritten; and ``USER.pub``, the public key as SubjectPublicKeyInfo PEM.

``cryptography`` runs PBKDF2 for only 2,048 rounds, cheap to guess against offline if a
key file is copied. The passphrase is therefore first stretched with scrypt (RFC 7914,
N=2^15, r=8, p=1: about 32 MiB and a tenth of a second per guess) and the PKCS#8
password is the base64 of the 32-byte scrypt output. The scrypt salt and parameters sit
on one line of explanatory text before the PEM block, which RFC 7468 §5.2 lets parsers
skip::

    gcms-key-kdf: scrypt n=32768 r=8 p=1 salt=<32 hex digits>
    -----BEGIN ENCRYPTED PRIVATE KEY-----

A PKCS#8 file without that line (made by another tool) is opened with the passphrase
as it is. The store
registers the public key (raw 32 bytes, base64) under its **fingerprint**, the SHA-256 of
those raw bytes in hex. Signing needs both the key file and the passphrase: two distinct
identification components (21 CFR 11.200(a)(1)).

Ed25519 (RFC 8032) signatures are deterministic, 64 bytes, stored base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from gcms.errors import CustodyError

__all__ = [
    "ALGORITHM",
    "MIN_PASSPHRASE_CHARS",
    "SigningKey",
    "fingerprint",
    "load_public_key",
    "load_signing_key",
    "new_key_pair",
    "verify_signature",
]

ALGORITHM = "Ed25519"

#: scrypt parameters for stretching a passphrase (RFC 7914; cost N, block size r,
#: parallelism p): the interactive-login level of the scrypt paper, ~32 MiB of memory.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
_KDF_PREFIX = "gcms-key-kdf:"

#: Shortest passphrase accepted for a new key (21 CFR 11.300 asks for password controls;
#: NIST SP 800-63B sets 8 characters as the floor for memorised secrets).
MIN_PASSPHRASE_CHARS = 8


def fingerprint(public_raw: bytes) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: how the store names a key."""
    return hashlib.sha256(public_raw).hexdigest()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An unlocked private key; exists only in memory while an analyst signs."""

    _private: object  # cryptography's Ed25519PrivateKey
    public_raw: bytes

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the public half."""
        return fingerprint(self.public_raw)

    @property
    def public_b64(self) -> str:
        """The raw public key, base64 (as the store registers it)."""
        return base64.b64encode(self.public_raw).decode("ascii")

    def sign(self, message: bytes) -> str:
        """Ed25519 signature of ``message``, base64."""
        return base64.b64encode(self._private.sign(message)).decode("ascii")

    def __repr__(self) -> str:
        return f"SigningKey(fingerprint={self.fingerprint[:16]}...)"


def _stretch(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    derived = hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                             maxmem=256 * r * n + (1 << 20), dklen=32)
    return base64.b64encode(derived)


def _split_kdf_line(data: bytes, path: Path) -> tuple[dict[str, str] | None, bytes]:
    first, _, rest = data.partition(b"\n")
    if not first.startswith(_KDF_PREFIX.encode()):
        return None, data
    try:
        fields = dict(item.split("=", 1) for item in first.decode("ascii").split()[2:])
        if first.decode("ascii").split()[1] != "scrypt" or set(fields) != {"n", "r", "p",
                                                                           "salt"}:
            raise ValueError
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise CustodyError(f"{path}: the {_KDF_PREFIX} line is not understood") from error
    return fields, rest


def _raw_public(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def new_key_pair(
    directory: str | os.PathLike, name: str, passphrase: str
) -> tuple[Path, Path, SigningKey]:
    """Make an Ed25519 key pair as ``DIRECTORY/NAME.key`` and ``DIRECTORY/NAME.pub``.

    Refuses a passphrase shorter than :data:`MIN_PASSPHRASE_CHARS` and never overwrites
    an existing file. Returns both paths and the unlocked key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise CustodyError(
            f"key {name}: the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = directory / f"{name}.key", directory / f"{name}.pub"
    for path in (key_path, pub_path):
        if path.exists():
            raise CustodyError(f"{path}: already exists; a key file is never overwritten")
    private = Ed25519PrivateKey.generate()
    salt = os.urandom(16)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(
            _stretch(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)),
    )
    kdf_line = (f"{_KDF_PREFIX} scrypt n={SCRYPT_N} r={SCRYPT_R} p={SCRYPT_P} "
                f"salt={salt.hex()}\n").encode("ascii")
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(kdf_line + private_pem)
    with open(pub_path, "xb") as handle:
        handle.write(public_pem)
    return key_path, pub_path, SigningKey(private, _raw_public(private.public_key()))


def load_signing_key(path: str | os.PathLike, passphrase: str) -> SigningKey:
    """Unlock a private key file; refuses a wrong passphrase or an unprotected key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CustodyError(f"{path}: cannot read the key file ({error.strerror})") from error
    kdf, pem = _split_kdf_line(data, path)
    if kdf is None:
        password = passphrase.encode("utf-8")
    else:
        try:
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            if n > 1 << 20 or r > 32 or p > 16:  # a doctored line must not exhaust memory
                raise ValueError(f"n={n} r={r} p={p} beyond what gcms writes")
            password = _stretch(passphrase, bytes.fromhex(kdf["salt"]), n, r, p)
        except ValueError as error:
            raise CustodyError(f"{path}: unusable scrypt parameters ({error})") from error
    try:
        private = serialization.load_pem_private_key(pem, password=password)
    except TypeError as error:
        raise CustodyError(
            f"{path}: the private key is not passphrase-protected; make one with 'gcms key new'"
        ) from error
    except ValueError as error:
        raise CustodyError(f"{path}: wrong passphrase, or not a PEM private key") from error
    if not isinstance(private, Ed25519PrivateKey):
        raise CustodyError(f"{path}: not an Ed25519 key")
    return SigningKey(private, _raw_public(private.public_key()))


def load_public_key(path: str | os.PathLike) -> bytes:
    """Raw 32 bytes of an Ed25519 public key from a ``.pub`` PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(path)
    try:
        public = serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise CustodyError(f"{path}: cannot read the key file ({error.strerror})") from error
    except ValueError as error:
        raise CustodyError(f"{path}: not a PEM public key") from error
    if not isinstance(public, Ed25519PublicKey):
        raise CustodyError(f"{path}: not an Ed25519 public key")
    return _raw_public(public)


def verify_signature(public_b64: str, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a valid Ed25519 signature of ``message``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(public_b64, validate=True)
        )
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
