"""PAdES signatures: made with a gcms key or a PKCS#12, checked, broken by any change."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from gcms.custody import CaseStore, new_key_pair
from gcms.report.pdf import render_pdf
from gcms.report.sign import pdf_signatures, sign_pdf
from gcms.report.verify import verify_report

from .models import full_model


@pytest.fixture(scope="module")
def small_pdf():
    """A short report (no figures) to sign quickly."""
    model = full_model(chromatograms=(), findings=full_model().findings[:1])
    return render_pdf(model)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    _, pub, analyst = new_key_pair(folder, "jdoe", "passphrase-jdoe")
    _, pub2, reviewer = new_key_pair(folder, "asmith", "passphrase-asmith")
    return {"jdoe": (analyst, pub), "asmith": (reviewer, pub2)}


def test_signed_with_the_analyst_key(small_pdf, keys):
    key, _ = keys["jdoe"]
    signed = sign_pdf(small_pdf, key=key, printed_name="Dr J. Doe", meaning="authored")
    assert signed.startswith(small_pdf)  # an incremental update: the report bytes kept
    (sig,) = pdf_signatures(signed)
    assert sig.holds and sig.coverage == "entire_file"
    assert sig.key_fingerprint == key.fingerprint
    assert (sig.printed_name, sig.meaning) == ("Dr J. Doe", "authored")
    assert sig.algorithm == "ed25519"


def test_one_changed_byte_breaks_the_signature(small_pdf, keys, tmp_path):
    key, _ = keys["jdoe"]
    signed = bytearray(sign_pdf(small_pdf, key=key, printed_name="Dr J. Doe",
                                meaning="authored"))
    where = signed.index(b"Dr J. Doe")  # inside the signed bytes (the signature table)
    signed[where] ^= 0x01
    path = tmp_path / "tampered.pdf"
    path.write_bytes(bytes(signed))
    outcome = verify_report(path)
    assert not outcome.ok
    assert any("changed after signing" in f for f in outcome.findings)


def test_bytes_appended_after_the_signature_are_named(small_pdf, keys, tmp_path):
    key, _ = keys["jdoe"]
    signed = sign_pdf(small_pdf, key=key, printed_name="Dr J. Doe", meaning="authored")
    path = tmp_path / "appended.pdf"
    path.write_bytes(signed + b"\n% appended\n")
    outcome = verify_report(path)
    assert any("whole file" in f for f in outcome.findings), outcome.findings


def test_reviewer_adds_a_second_signature(small_pdf, keys, tmp_path):
    first = sign_pdf(small_pdf, key=keys["jdoe"][0], printed_name="Dr J. Doe",
                     meaning="authored")
    both = sign_pdf(first, key=keys["asmith"][0], printed_name="A. Smith", meaning="reviewed")
    sigs = pdf_signatures(both)
    assert [s.meaning for s in sigs] == ["authored", "reviewed"]
    assert all(s.holds for s in sigs)
    path = tmp_path / "both.pdf"
    path.write_bytes(both)
    outcome = verify_report(path)
    assert outcome.ok  # nothing checked failed...
    assert not outcome.verified  # ...but without a store the signers are not known
    assert any(u.startswith("signer identity") for u in outcome.unchecked)


def test_unsigned_report_does_not_verify(small_pdf, tmp_path):
    path = tmp_path / "unsigned.pdf"
    path.write_bytes(small_pdf)
    outcome = verify_report(path)
    assert outcome.findings == ("the PDF carries no digital signature",)
    assert outcome.report_id == full_model().report_id


def test_key_must_be_registered_in_the_store(small_pdf, keys, tmp_path):
    key, pub = keys["jdoe"]
    path = tmp_path / "signed.pdf"
    path.write_bytes(sign_pdf(small_pdf, key=key, printed_name="Dr J. Doe",
                              meaning="authored"))
    with CaseStore(tmp_path / "store", actor="jdoe") as store:
        outcome = verify_report(path, store=store)
        assert any("not an analyst key registered" in f for f in outcome.findings)
        store.register_key(key, user="jdoe", printed_name="Dr J. Doe")
        outcome = verify_report(path, store=store)
        assert not any("not an analyst key" in f for f in outcome.findings)
        # the model's case is not in this store: its evidence cannot be matched
        assert any("case store" in f for f in outcome.findings)


def test_lab_pkcs12_signature_verifies_in_poppler(small_pdf, tmp_path):
    """An ECDSA certificate of a lab CA: an independent verifier (pdfsig) accepts it."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Dr J. Doe")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    p12 = tmp_path / "lab.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"jdoe", key, cert, None, BestAvailableEncryption(b"p12-pass")))
    signed = sign_pdf(small_pdf, pkcs12=p12, pkcs12_passphrase="p12-pass",
                      printed_name="Dr J. Doe", meaning="approved")
    (sig,) = pdf_signatures(signed)
    assert sig.holds and sig.algorithm == "ec"
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (poppler-utils) is not installed")
    path = tmp_path / "p12.pdf"
    path.write_bytes(signed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out
    assert "Total document signed" in out
