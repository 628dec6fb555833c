"""PAdES signatures on report PDFs (pyHanko), and their verification.

Two ways to sign:

* **The analyst's gcms key** (``gcms key new``: Ed25519, the key the case store knows).
  A PAdES signature needs an X.509 certificate, so :func:`self_signed_certificate`
  makes one for that key (subject = printed name, user id, laboratory; key usage
  digitalSignature + nonRepudiation). Nobody vouches for a self-signed certificate: its
  trust comes from the case store, where the same public key is registered to the
  analyst (``gcms report verify --store`` checks that). pyHanko signs and verifies
  Ed25519 (ISO/TS 32002); many PDF viewers (Acrobat, poppler's ``pdfsig``) do not yet
  verify EdDSA signatures and show them as unknown.
* **The lab's own PKI**: a PKCS#12 file (certificate issued by the lab's or a national
  CA, RSA or ECDSA key) signs a signature every PDF viewer checks against that CA.
* **A lab CA made by gcms** for a lab without its own PKI: :func:`new_lab_ca` makes an
  ECDSA P-256 CA (RFC 5480 key, RFC 5280 CA certificate, key passphrase-protected) and
  :func:`issue_analyst_certificate` an analyst's ECDSA P-256 key and certificate from it,
  as a PKCS#12 file that signs like any lab PKI's (``--pkcs12``). ECDSA with SHA-256 is
  what every PAdES validator implements (ETSI TS 119 312), so poppler's ``pdfsig`` and
  Acrobat check these signatures cryptographically; they trust them once the lab CA
  certificate is installed as a trust anchor (``gcms report verify --lab`` names it in
  ``[policy] ca_certificate``).

Signatures are incremental updates (``/SubFilter /ETSI.CAdES.detached``, SHA-512 digest):
the signed bytes are the whole file but the signature value, so any change of a byte
breaks it; a later reviewer's signature is appended as a new revision without touching
the first. :func:`pdf_signatures` reports, for each signature, whether it is intact,
cryptographically valid, which part of the file it covers, and the public key's
fingerprint in the case store's form (SHA-256 of the raw key) for Ed25519 keys.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcms.errors import GcmsError, MissingExtraError

__all__ = ["PdfSignature", "certificate_identity", "issue_analyst_certificate",
           "new_lab_ca", "pdf_signatures", "self_signed_certificate", "sign_pdf"]

#: Years a self-signed analyst certificate is valid (a report is read for decades; the
#: signing time, not today, is what a verifier compares against).
CERTIFICATE_YEARS = 10
#: Years a lab CA certificate is valid (longer than any analyst certificate it issues).
CA_YEARS = 20


def _require_pyhanko():
    """Import pyHanko's signing and validation modules once, or say which extra is missing.

    pyHanko imports cryptography's DSA types for its signer registry; cryptography 48+
    deprecates DSA and warns at that import. The warning is pyHanko's (gcms never makes or
    accepts DSA keys), so it is ignored for pyHanko's modules alone, at the one import that
    raises it; the modules are cached afterwards.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="DSA is deprecated",
                                    module=r"pyhanko(\.|$)")
            import pyhanko.sign  # noqa: F401
            import pyhanko.sign.validation  # noqa: F401
    except ImportError as error:
        raise MissingExtraError("signing report PDFs", "report", "pyhanko") from error


def _signer_extensions(builder, public):
    """Add the extensions of a document signer's certificate to ``builder``.

    Not a CA; the key signs only (digital signature and non-repudiation, RFC 5280
    section 4.2.1.3); the subject key identifier of ``public``.
    """
    from cryptography import x509

    return (
        builder
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def self_signed_certificate(key, *, printed_name: str, user: str | None = None,
                            organisation: str | None = None,
                            not_before: _dt.datetime | None = None) -> bytes:
    """A self-signed X.509 certificate (DER) for a gcms :class:`~gcms.custody.SigningKey`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    private = key._private  # the unlocked Ed25519 key a SigningKey wraps
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, printed_name)]
    if user:
        attributes.append(x509.NameAttribute(NameOID.USER_ID, user))
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    name = x509.Name(attributes)
    start = (not_before or _dt.datetime.now(_dt.timezone.utc)) - _dt.timedelta(minutes=5)
    public = private.public_key()
    certificate = _signer_extensions(
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=365 * CERTIFICATE_YEARS)), public
    ).sign(private, None)
    return certificate.public_bytes(serialization.Encoding.DER)


def _write_new(path: Path, data: bytes, *, private: bool) -> None:
    """Write a file that must not exist yet (never overwrite a key or certificate)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o600 if private else 0o644)
    except FileExistsError:
        raise GcmsError(f"{path}: already exists; a key or certificate is never "
                        "overwritten") from None
    except OSError as error:
        raise GcmsError(f"{path}: cannot write ({error.strerror or error})") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _check_passphrase(passphrase: str, what: str) -> None:
    from gcms.custody.keys import MIN_PASSPHRASE_CHARS

    if len(passphrase or "") < MIN_PASSPHRASE_CHARS:
        raise GcmsError(f"{what}: the passphrase must have at least {MIN_PASSPHRASE_CHARS} "
                        "characters")


def _name(common_name: str, *, user: str | None = None, organisation: str | None = None):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    if not common_name or not common_name.strip():
        raise GcmsError("a certificate needs a name")
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if user:
        attributes.append(x509.NameAttribute(NameOID.USER_ID, user))
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def new_lab_ca(directory: str | os.PathLike, *, name: str, passphrase: str,
               organisation: str | None = None) -> tuple[Path, Path]:
    """Make a lab CA: ``DIRECTORY/lab-ca.key`` (ECDSA P-256, encrypted) and ``lab-ca.pem``.

    The certificate is a self-signed CA certificate (basicConstraints CA, path length 0:
    it issues analyst certificates only; keyCertSign and cRLSign), valid
    :data:`CA_YEARS` years. Neither file is ever overwritten. Returns both paths.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    _check_passphrase(passphrase, "lab CA key")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / "lab-ca.key", directory / "lab-ca.pem"
    for path in (key_path, cert_path):
        if path.exists():
            raise GcmsError(f"{path}: already exists; a key or certificate is never "
                            "overwritten")
    private = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name, organisation=organisation)
    start = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    public = private.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(public).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )
    _write_new(key_path, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))), private=True)
    _write_new(cert_path, certificate.public_bytes(serialization.Encoding.PEM), private=False)
    return key_path, cert_path


def _load_ca(directory: str | os.PathLike, passphrase: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory = Path(directory)
    key_path, cert_path = directory / "lab-ca.key", directory / "lab-ca.pem"
    try:
        key_pem, cert_pem = key_path.read_bytes(), cert_path.read_bytes()
    except OSError as error:
        raise GcmsError(f"{directory}: no lab CA here ({error.strerror or error}); make one "
                        "with 'gcms report ca new'") from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=passphrase.encode())
    except (TypeError, ValueError):
        raise GcmsError(f"{key_path}: wrong passphrase, or not an encrypted PEM key") from None
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise GcmsError(f"{cert_path}: not a PEM certificate") from None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or (
        certificate.public_key().public_numbers() != private.public_key().public_numbers()
    ):
        raise GcmsError(f"{directory}: lab-ca.key and lab-ca.pem are not one key pair")
    return private, certificate


def issue_analyst_certificate(ca_directory: str | os.PathLike, ca_passphrase: str, *,
                              user: str, printed_name: str, output: str | os.PathLike,
                              passphrase: str, organisation: str | None = None
                              ) -> tuple[Path, Path]:
    """Issue an analyst an ECDSA P-256 key and certificate from the lab CA.

    Writes ``OUTPUT`` (PKCS#12: the key, the certificate and the CA certificate, encrypted
    with ``passphrase``) and ``OUTPUT`` with suffix ``.pem`` (the certificate alone).
    Subject: common name = the printed name, userId = the user, the organisation; key
    usage digitalSignature and nonRepudiation (RFC 5280 §4.2.1.3); valid
    :data:`CERTIFICATE_YEARS` years. Returns both paths.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12

    from gcms.custody.records import check_id

    check_id(user, "user")
    _check_passphrase(passphrase, f"certificate of {user}")
    ca_key, ca_cert = _load_ca(ca_directory, ca_passphrase)
    output = Path(output)
    pem_path = output.with_suffix(".pem")
    for path in (output, pem_path):
        if path.exists():
            raise GcmsError(f"{path}: already exists; a key or certificate is never "
                            "overwritten")
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key()
    start = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    end = min(start + _dt.timedelta(days=365 * CERTIFICATE_YEARS),
              ca_cert.not_valid_after_utc)
    certificate = (
        _signer_extensions(
            x509.CertificateBuilder()
            .subject_name(_name(printed_name, user=user, organisation=organisation))
            .issuer_name(ca_cert.subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end), public)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    bundle = pkcs12.serialize_key_and_certificates(
        user.encode("utf-8"), private, certificate, [ca_cert],
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")))
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_new(output, bundle, private=True)
    _write_new(pem_path, certificate.public_bytes(serialization.Encoding.PEM), private=False)
    return output, pem_path


def certificate_identity(certificate_der: bytes, ca_certificate: str | os.PathLike
                         ) -> tuple[str | None, str | None, str | None]:
    """Who a certificate names, if the lab CA issued it: ``(user, printed name, problem)``.

    ``problem`` is None when ``ca_certificate`` (PEM) signed the certificate and it was
    valid at some time (the signing time is checked by the PDF validator); otherwise it
    says why the certificate is not the lab's.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID

    try:
        ca = x509.load_pem_x509_certificate(Path(ca_certificate).read_bytes())
    except (OSError, ValueError) as error:
        raise GcmsError(f"{ca_certificate}: not a readable PEM certificate ({error})") from None
    certificate = x509.load_der_x509_certificate(certificate_der)
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None, None, f"not issued by the lab CA {ca.subject.rfc4514_string()}"

    def first(oid) -> str | None:
        found = certificate.subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else None

    return first(NameOID.USER_ID), first(NameOID.COMMON_NAME), None


def _signer_from_key(key, certificate_der: bytes):
    _require_pyhanko()
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = key._private.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    certificate = asn1_x509.Certificate.load(certificate_der)
    return signers.SimpleSigner(
        signing_cert=certificate, signing_key=asn1_keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs([certificate]))


def sign_pdf(data: bytes, *, printed_name: str, meaning: str, key=None,
             certificate: bytes | None = None, pkcs12: str | os.PathLike | None = None,
             pkcs12_passphrase: str | None = None, user: str | None = None,
             organisation: str | None = None, location: str | None = None) -> bytes:
    """Sign a PDF (PAdES B-B) and return the signed bytes (an incremental update).

    Give either ``key`` (an unlocked gcms :class:`~gcms.custody.SigningKey`; with
    ``certificate`` as DER, or a self-signed one made here) or ``pkcs12`` (a PKCS#12
    file of the lab's PKI). ``meaning`` (authored / reviewed / approved) goes into the
    signature's reason, ``printed_name`` into its name (21 CFR 11.50).
    """
    _require_pyhanko()
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers

    if (key is None) == (pkcs12 is None):
        raise GcmsError("signing a report: give either an analyst key or a PKCS#12 file")
    if key is not None:
        certificate = certificate or self_signed_certificate(
            key, printed_name=printed_name, user=user, organisation=organisation)
        signer = _signer_from_key(key, certificate)
    else:
        try:
            signer = signers.SimpleSigner.load_pkcs12(
                str(pkcs12), passphrase=pkcs12_passphrase.encode() if pkcs12_passphrase
                else None)
        except (OSError, ValueError) as error:
            raise GcmsError(f"{pkcs12}: cannot load the PKCS#12 file ({error})") from None
        if signer is None:
            raise GcmsError(f"{pkcs12}: not a PKCS#12 file with a key and certificate, "
                            "or wrong passphrase")
    existing = len(PdfFileReader(io.BytesIO(data)).embedded_signatures)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    meta = signers.PdfSignatureMetadata(
        field_name=f"Signature{existing + 1}", reason=meaning, name=printed_name,
        location=location, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha512")
    out = signers.sign_pdf(writer, meta, signer=signer)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class PdfSignature:
    """What one PAdES signature in a PDF says and whether it holds."""

    field: str
    signer: str
    printed_name: str | None
    meaning: str | None
    signed_at: str | None
    intact: bool
    valid: bool
    coverage: str
    modifications: str
    algorithm: str
    key_fingerprint: str | None
    certificate_sha256: str
    certificate_der: bytes = dataclasses.field(default=b"", repr=False, compare=False)

    @property
    def holds(self) -> bool:
        """Intact and valid."""
        return self.intact and self.valid

    def to_dict(self) -> dict[str, Any]:
        """JSON form (without the certificate's bytes)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name != "certificate_der"}


def _quiet_validation():
    """PyHanko logs an error for every self-signed certificate it cannot chain."""
    logger = logging.getLogger("pyhanko")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    return logger, level


def pdf_signatures(data: bytes, *, source: str = "report") -> list[PdfSignature]:
    """Every PAdES signature of a PDF, checked (integrity, validity, coverage).

    The certificate of each signature is taken as its own trust root: this says the
    bytes are as signed by the holder of that key; whose key it is the case store
    tells (:func:`gcms.report.verify.verify_report`).
    """
    _require_pyhanko()
    import hashlib

    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfReadError, ValueError, KeyError) as error:
        raise GcmsError(f"{source}: not a readable PDF ({error})") from None
    logger, level = _quiet_validation()
    out = []
    try:
        for sig in embedded:
            cert = sig.signer_cert
            status = validate_pdf_signature(sig, ValidationContext(trust_roots=[cert]))
            public = cert.public_key
            fingerprint = None
            if public.algorithm == "ed25519":
                fingerprint = hashlib.sha256(bytes(public["public_key"])).hexdigest()
            when = status.signer_reported_dt
            sig_object = sig.sig_object
            out.append(PdfSignature(
                field=sig.field_name,
                signer=cert.subject.human_friendly,
                printed_name=str(sig_object.get("/Name")) if "/Name" in sig_object else None,
                meaning=str(sig_object.get("/Reason")) if "/Reason" in sig_object else None,
                signed_at=when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                if when else None,
                intact=bool(status.intact), valid=bool(status.valid),
                coverage=status.coverage.name.lower() if status.coverage else "unknown",
                modifications=(status.modification_level.name.lower()
                               if status.modification_level is not None else "unknown"),
                algorithm=public.algorithm,
                key_fingerprint=fingerprint,
                certificate_sha256=hashlib.sha256(cert.dump()).hexdigest(),
                certificate_der=cert.dump(),
            ))
    finally:
        logger.setLevel(level)
    return out


def read_pdf(path: str | os.PathLike) -> bytes:
    """The bytes of a PDF file; ``GcmsError`` naming the file when it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise GcmsError(f"{path}: cannot read ({error.strerror or error})") from None
    if not data.startswith(b"%PDF-"):
        raise GcmsError(f"{path}: not a PDF file")
    return data
