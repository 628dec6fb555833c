"""Signatures other tools accept: a lab CA (ECDSA P-256), analyst certificates, pdfsig.

poppler's ``pdfsig`` checks a report signed with an analyst certificate of the lab CA
cryptographically ("Signature is Valid.") and says the issuer is not trusted until the
lab CA is installed as a trust anchor; the same report signed with an Ed25519 gcms key
is not checked by it at all. Tests that need ``pdfsig`` skip cleanly without it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from gcms_cli.main import cli

from gcms.custody import new_key_pair
from gcms.errors import GcmsError
from gcms.report.pdf import render_pdf
from gcms.report.sign import (
    certificate_identity,
    issue_analyst_certificate,
    new_lab_ca,
    pdf_signatures,
    sign_pdf,
)
from gcms.report.verify import verify_report

from .conftest import poppler
from .models import full_model

CA_PASS, P12_PASS = "ca-passphrase", "p12-passphrase"


@pytest.fixture(scope="module")
def small_pdf():
    return render_pdf(full_model(chromatograms=(), findings=full_model().findings[:1]))


@pytest.fixture(scope="module")
def lab_ca(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ca")
    key, cert = new_lab_ca(folder, name="Test Lab signing CA", passphrase=CA_PASS,
                           organisation="Test Lab")
    p12, pem = issue_analyst_certificate(folder, CA_PASS, user="jdoe",
                                         printed_name="Dr J. Doe", output=folder / "jdoe.p12",
                                         passphrase=P12_PASS, organisation="Test Lab")
    return {"folder": folder, "key": key, "cert": cert, "p12": p12, "pem": pem}


def test_the_lab_ca_and_an_analyst_certificate(lab_ca):
    ca = x509.load_pem_x509_certificate(lab_ca["cert"].read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    assert b"ENCRYPTED PRIVATE KEY" in lab_ca["key"].read_bytes()
    assert stat.S_IMODE(os.stat(lab_ca["key"]).st_mode) == 0o600
    analyst = x509.load_pem_x509_certificate(lab_ca["pem"].read_bytes())
    analyst.verify_directly_issued_by(ca)
    assert analyst.public_key().curve.name == "secp256r1"
    usage = analyst.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    user, name, problem = certificate_identity(analyst.public_bytes(Encoding.DER),
                                               lab_ca["cert"])
    assert (user, name, problem) == ("jdoe", "Dr J. Doe", None)
    # nothing is overwritten; a wrong CA passphrase issues nothing
    with pytest.raises(GcmsError, match="never overwritten"):
        new_lab_ca(lab_ca["folder"], name="again", passphrase=CA_PASS)
    with pytest.raises(GcmsError, match="wrong passphrase"):
        issue_analyst_certificate(lab_ca["folder"], "not-the-passphrase", user="x",
                                  printed_name="X", output=lab_ca["folder"] / "x.p12",
                                  passphrase=P12_PASS)
    assert not (lab_ca["folder"] / "x.p12").exists()


def test_pdfsig_checks_a_report_signed_with_a_lab_certificate(lab_ca, small_pdf, tmp_path):
    signed = sign_pdf(small_pdf, pkcs12=lab_ca["p12"], pkcs12_passphrase=P12_PASS,
                      printed_name="Dr J. Doe", meaning="authored")
    (sig,) = pdf_signatures(signed)
    assert sig.holds and sig.algorithm == "ec" and sig.coverage == "entire_file"
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    out = subprocess.run([poppler("pdfsig"), str(path)], capture_output=True,
                         text=True).stdout
    # what pdfsig says: the signature verifies; the lab CA is not in its trust store
    assert "Signature Validation: Signature is Valid." in out
    assert "Certificate Validation: Certificate issuer isn't Trusted." in out
    assert "Signer Certificate Common Name: Dr J. Doe" in out and "UID=jdoe" in out
    assert "Total document signed" in out
    # a byte changed inside the signed range: pdfsig says so too
    broken = bytearray(signed)
    broken[broken.index(b"Dr J. Doe")] ^= 0x01
    path.write_bytes(bytes(broken))
    out = subprocess.run([poppler("pdfsig"), str(path)], capture_output=True,
                         text=True).stdout
    assert "Signature is Valid." not in out


def test_pdfsig_does_not_check_an_ed25519_signature(small_pdf, tmp_path):
    """Why the lab CA exists: the Ed25519 gcms key is checked by gcms, not by pdfsig."""
    _, _, key = new_key_pair(tmp_path / "k", "jdoe", "passphrase-jdoe")
    path = tmp_path / "ed25519.pdf"
    path.write_bytes(sign_pdf(small_pdf, key=key, printed_name="Dr J. Doe",
                              meaning="authored"))
    assert pdf_signatures(path.read_bytes())[0].holds
    out = subprocess.run([poppler("pdfsig"), str(path)], capture_output=True,
                         text=True).stdout
    assert "Signature is Valid." not in out


def test_verify_names_the_lab_ca_signer_and_what_it_could_not_check(lab_ca, small_pdf,
                                                                    tmp_path):
    path = tmp_path / "signed.pdf"
    path.write_bytes(sign_pdf(small_pdf, pkcs12=lab_ca["p12"], pkcs12_passphrase=P12_PASS,
                              printed_name="Dr J. Doe", meaning="authored"))
    outcome = verify_report(path, ca_certificate=lab_ca["cert"])
    assert outcome.ok and not outcome.verified
    assert any("certificate issued by the lab CA to jdoe (Dr J. Doe)" in c
               for c in outcome.checked)
    assert not any(u.startswith("signer identity") for u in outcome.unchecked)
    assert any(u.startswith("case store chain") for u in outcome.unchecked)
    # another CA's certificate is not the lab's
    other = tmp_path / "other"
    new_lab_ca(other, name="Someone else", passphrase=CA_PASS)
    outcome = verify_report(path, ca_certificate=other / "lab-ca.pem")
    assert any("not issued by the lab CA" in f for f in outcome.findings)


def test_cli_makes_the_ca_issues_a_certificate_and_signs(small_pdf, tmp_path):
    env = {"GCMS_CA_PASSPHRASE": CA_PASS, "GCMS_KEY_PASSPHRASE": P12_PASS,
           "GCMS_STORE": None}
    runner = CliRunner()
    out = runner.invoke(cli, ["report", "ca", "new", str(tmp_path / "ca"), "--name",
                              "Test Lab signing CA"], env=env)
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["report", "ca", "issue", "--ca", str(tmp_path / "ca"),
                              "--user", "asmith", "--name", "A. Smith", "-o",
                              str(tmp_path / "asmith.p12")], env=env)
    assert out.exit_code == 0, out.output
    lab = tmp_path / "lab.toml"
    lab.write_text('[laboratory]\nname = "Test Lab"\n\n[policy]\n'
                   'ca_certificate = "ca/lab-ca.pem"\n', encoding="utf-8")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(small_pdf)
    # the printed name is the certificate's: another one is refused
    out = runner.invoke(cli, ["report", "sign", str(pdf), "--pkcs12",
                              str(tmp_path / "asmith.p12"), "--signer", "Dr J. Doe",
                              "--lab", str(lab)], env=env)
    assert out.exit_code == 2 and "not 'Dr J. Doe'" in out.output
    out = runner.invoke(cli, ["report", "sign", str(pdf), "--pkcs12",
                              str(tmp_path / "asmith.p12"), "--meaning", "reviewed",
                              "--lab", str(lab)], env=env)
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["report", "verify", str(pdf), "--lab", str(lab), "--json"],
                        env=env)
    outcome = json.loads(out.output)
    assert outcome["ok"] and not outcome["verified"]
    assert outcome["signatures"][0]["printed_name"] == "A. Smith"
