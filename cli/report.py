"""``gcms report``: an exhibit's report as PDF (signed), JSON or CSV; ``gcms report verify``.

::

    gcms report RESULTS.json --exhibit E -o report.pdf [--language en|ar|ar,en] [--lab LAB.toml]
    gcms report --store S [--case C] --exhibit E -o report.pdf
    gcms report ... --sign-key KEY --signer NAME --meaning authored     # PAdES, gcms key
    gcms report ... --pkcs12 LAB.p12 --signer NAME --meaning approved   # PAdES, lab PKI
    gcms report ... -o report.json | -o verdicts.csv                     # or --format
    gcms report sign report.pdf --sign-key KEY --signer NAME --meaning reviewed
    gcms report verify report.pdf [--store S | --results RESULTS.json] [--no-rehash]
    gcms report list --case C --store S          # issued, superseded and draft reports
    gcms report ca new DIR --name NAME           # a lab CA (ECDSA P-256)
    gcms report ca issue --ca DIR --user U --name NAME -o U.p12   # an analyst certificate
    gcms report schema                                                   # the JSON Schema

A report is made only from evidence that verifies (:mod:`gcms.report.issue`): from a
store, after its chain, records, signatures and reachable evidence files verify; from
RESULTS, only when the store recorded that file (or as a --draft). With a store every
report made is recorded (report id, file SHA-256, analysis, signers, chain head).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_OK, emit_json, error_line
from gcms_cli._common import guarded as _guarded

#: Environment variable read for a key's (or PKCS#12 file's) passphrase; prompted otherwise.
PASSPHRASE_ENV = "GCMS_KEY_PASSPHRASE"
_FORMATS = {".pdf": "pdf", ".json": "json", ".csv": "csv"}


class _ReportGroup(click.Group):
    """``gcms report ARGS`` makes a report unless ARGS start with a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["make", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ReportGroup)
def report() -> None:
    """Court-ready report of one exhibit: PDF (English, Arabic, both; signed), JSON, CSV.

    \b
    gcms report RESULTS.json --exhibit E -o report.pdf [--language ar,en] [--lab LAB.toml]
    gcms report --store S --exhibit E -o report.pdf
    gcms report verify report.pdf [--store S]
    """


def _passphrase(env_name: str, prompt: str) -> str:
    from gcms.config import secret

    value = secret(env_name)
    return value if value is not None else click.prompt(prompt, hide_input=True, err=True)


def _signing_options(function: Callable) -> Callable:
    options = [
        click.option("--sign-key", type=click.Path(dir_okay=False),
                     help="Sign (PAdES) with this gcms analyst key (gcms key new)."),
        click.option("--pkcs12", type=click.Path(dir_okay=False),
                     help="Sign (PAdES) with this PKCS#12 file of the lab's PKI."),
        click.option("--signer", help="Printed name of the signer (21 CFR 11.50); with "
                     "--store it is the store's for the key, and a different one is refused."),
        click.option("--meaning", type=click.Choice(["authored", "reviewed", "approved"]),
                     default="authored", show_default=True, help="Meaning of the signature."),
        click.option("--user", help="The signer's user id (put in the certificate)."),
        click.option("--passphrase-env", default=PASSPHRASE_ENV, show_default=True,
                     help="Environment variable holding the passphrase; prompted when unset."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _signing(sign_key, pkcs12, signer, meaning, user, passphrase_env):
    """The signing material (:class:`gcms.report.issue.Signing`), or None."""
    from gcms.report.issue import Signing

    if sign_key is None and pkcs12 is None:
        return None
    if sign_key and pkcs12:
        raise click.UsageError("give --sign-key or --pkcs12, not both")
    if sign_key:
        from gcms.custody import load_signing_key

        key = load_signing_key(sign_key, _passphrase(passphrase_env,
                                                     f"Passphrase of {sign_key}"))
        return Signing(meaning=meaning, key=key, printed_name=signer, user=user)
    return Signing(meaning=meaning, pkcs12=pkcs12, printed_name=signer, user=user,
                   pkcs12_passphrase=_passphrase(passphrase_env, f"Passphrase of {pkcs12}"))


def _write(path: Path, data: bytes) -> None:
    from gcms.errors import GcmsError

    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as error:
        raise GcmsError(f"{path}: cannot write ({error.strerror or error})") from None


def _open_store(store_location: str | None, actor: str | None):
    from gcms.custody import CaseStore

    return CaseStore(store_location, actor=actor, create=False)


def _actor_option(function: Callable) -> Callable:
    return click.option("--actor", envvar="GCMS_ACTOR", default=None,
                        help="Enrolled user making the report [env GCMS_ACTOR].")(function)


@report.command("make", hidden=True)
@click.argument("results", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--exhibit", "exhibit_id", required=True, help="Exhibit to report on.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Report file (.pdf, .json or .csv).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "json", "csv"]),
              help="Output format [default: from the -o extension, else pdf].")
@click.option("--language", "languages", help="en, ar or ar,en (the first sets the layout) "
              "[default: the lab profile's, else en].")
@click.option("--lab", type=click.Path(exists=True, dir_okay=False),
              help="Laboratory profile (TOML): name, address, accreditation, logo, policy.")
@click.option("--translations", type=click.Path(exists=True, file_okay=False),
              help="Folder of the lab's own <language>.toml wording.")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Case store to report from (or that recorded RESULTS).")
@click.option("--case", "case_id", help="Case of the exhibit (when the store has several).")
@click.option("--analysis", "analysis_id",
              help="The analysis to report (required when the exhibit has several).")
@click.option("--library", type=click.Path(exists=True, dir_okay=False),
              help="The batch's library file: draws the library entry's spectrum.")
@click.option("--report-id", help="The lab's report number [default: case-exhibit-digest].")
@click.option("--draft", is_flag=True,
              help="Make a DRAFT (watermarked on every page): also the only way to report "
                   "from a results file the case store did not record (RESULTS without "
                   "--store always makes a DRAFT).")
@click.option("--rehash/--no-rehash", default=None,
              help="Re-hash every evidence file first (a missing one is a break) "
                   "[default: those reachable from here].")
@click.option("--supersedes", metavar="REPORT_ID",
              help="The issued report this one amends (marked superseded in the store).")
@click.option("--reason", help="Why the report is amended (with --supersedes; kept).")
@click.option("--not-reportable-ok", "not_reportable_ok", is_flag=True,
              help="Make the report of an exhibit the batch withheld (instrument QA not "
                   "passing) for review: marked NOT REPORTABLE on every page, never signed.")
@_signing_options
@_actor_option
@_guarded
def make(results, exhibit_id, output, fmt, languages, lab, translations, store_location,
         case_id, analysis_id, library, report_id, draft, rehash, supersedes, reason,
         not_reportable_ok, sign_key, pkcs12, signer, meaning, user, passphrase_env, actor):
    """Make the report of one exhibit, from evidence that verifies.

    \b
    From a case store: its audit chain, records and signatures, and the evidence files
    that can be reached, are verified first; any break: exit 1, no file written. From
    RESULTS: only a file whose SHA-256 the store recorded (--store), or --draft;
    RESULTS without a store can only make a DRAFT (nothing to check it against).
    With a store the report is recorded (gcms report list); the lab policy
    ([policy] require in --lab) decides whether it is issued or a DRAFT.
    An exhibit the batch marked not reportable gets no report (exit 1) unless
    --not-reportable-ok asks for a review copy.
    """
    from contextlib import nullcontext

    from gcms.report.issue import make_report
    from gcms.report.lab import LabProfile, load_lab_profile

    output = Path(output)
    fmt = fmt or _FORMATS.get(output.suffix.lower(), "pdf")
    if results is None and store_location is None:
        raise click.UsageError("give RESULTS.json or --store (or both: the store that "
                               "recorded RESULTS)")
    if (reason is None) != (supersedes is None):
        raise click.UsageError("--supersedes and --reason go together")
    profile = load_lab_profile(lab) if lab else LabProfile(laboratory=None)
    signing = _signing(sign_key, pkcs12, signer, meaning, user, passphrase_env)
    opened = (_open_store(store_location, actor) if store_location is not None
              else nullcontext())
    with opened as store:
        made = make_report(
            exhibit_id, fmt=fmt, results=results, store=store, case_id=case_id,
            analysis_id=analysis_id, profile=profile, languages=languages,
            translations=translations, library=library, report_id=report_id, draft=draft,
            rehash=rehash, supersedes=supersedes, reason=reason,
            signing=None if (not_reportable_ok and signing is None) else signing,
            review_copy=not_reportable_ok, withheld_check=_withheld_check(
                exhibit_id, not_reportable_ok, signing))
        _write(output, made.data)
    model = made.model
    identified = ", ".join(model.conclusion.identified) or "none"
    click.echo(f"{output}: report {model.report_id}, case {model.case_id}, exhibit "
               f"{model.exhibit_id}; identified: {identified}"
               + ("; signed" if signing is not None else "")
               + ("; NOT REPORTABLE (review copy)" if model.withheld else "")
               + ("; DRAFT" + (f" (policy needs: {', '.join(made.unmet)})" if made.unmet
                               else "") if made.status == "draft" else "")
               + ("; recorded in the case store" if made.record is not None else ""))
    for note in made.notes:
        click.echo(f"  note: {note}")


def _withheld_check(exhibit_id: str, review_copy: bool, signing) -> Callable:
    """Refuse a withheld exhibit's report (exit 1) unless a review copy is asked for."""
    def check(model) -> None:
        if not model.withheld:
            return
        if not review_copy:
            error_line(f"exhibit {exhibit_id} is not reportable: the batch withheld its "
                       f"results ({'; '.join(model.withheld)}); re-analyse it on an "
                       "instrument that passes its QA, or give --not-reportable-ok for a "
                       "review copy marked NOT REPORTABLE")
            sys.exit(EXIT_FINDINGS)
        if signing is not None:
            raise click.UsageError("a not-reportable exhibit's review copy is not signed")

    return check


@report.command("sign")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Signed copy [default: sign in place, as an incremental update].")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Case store that recorded the report: names the "
                                      "signer, checks the duty rules, records the signature.")
@click.option("--lab", type=click.Path(exists=True, dir_okay=False),
              help="Laboratory profile: its lab CA names the signer of a certificate.")
@_signing_options
@_actor_option
@_guarded
def sign(pdf, output, store_location, lab, sign_key, pkcs12, signer, meaning, user,
         passphrase_env, actor):
    """Add a signature (e.g. the technical reviewer's) to a report PDF."""
    import hashlib
    from contextlib import nullcontext

    from gcms.report.issue import resolve_signer
    from gcms.report.lab import load_lab_profile
    from gcms.report.sign import read_pdf, sign_pdf
    from gcms.report.verify import embedded_report

    signing = _signing(sign_key, pkcs12, signer, meaning, user, passphrase_env)
    if signing is None:
        raise click.UsageError("give --sign-key or --pkcs12")
    ca = load_lab_profile(lab).ca_certificate if lab else None
    data = read_pdf(pdf)
    facts = embedded_report(data, source=str(pdf)) or {}
    opened = (_open_store(store_location, actor) if store_location is not None
              else nullcontext())
    with opened as store:
        who = resolve_signer(signing, store=store, case_id=facts.get("case_id"),
                             exhibit_id=facts.get("exhibit_id"), ca_certificate=ca)
        material = ({"key": signing.key} if signing.key is not None else
                    {"pkcs12": signing.pkcs12, "pkcs12_passphrase": signing.pkcs12_passphrase})
        signed = sign_pdf(data, printed_name=who.printed_name, meaning=meaning, user=who.user,
                          **material)
        if store is not None:
            from gcms.custody.reports import revise_report_file

            revise_report_file(store, facts.get("case_id"), facts.get("report_id"),
                               old_sha256=hashlib.sha256(data).hexdigest(),
                               new_sha256=hashlib.sha256(signed).hexdigest(),
                               signers=[who.to_dict()], reason=f"signed as {meaning}")
        target = Path(output or pdf)
        _write(target, signed)
    click.echo(f"{target}: signed by {who.printed_name} ({meaning})"
               + ("" if who.identified else "; the name is the signer's own claim (no "
                                                "--store)")
               + ("; recorded in the case store" if store_location else ""))


@report.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False))
@click.option("--store", "store_location", default=None, metavar="DIR|URL",
              help="Case store: signing keys registered, report recorded, evidence digests "
                   "as stored, chain verified.")
@click.option("--results", type=click.Path(exists=True, dir_okay=False),
              help="Batch results.json: evidence digests as the batch recorded them.")
@click.option("--lab", type=click.Path(exists=True, dir_okay=False),
              help="Laboratory profile: its lab CA ([policy] ca_certificate) names the "
                   "signers of certificates.")
@click.option("--rehash/--no-rehash", default=True, show_default=True,
              help="Re-hash the report's evidence files reachable from here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_guarded
def verify(pdf, store_location, results, lab, rehash, as_json):
    """Check a report's signatures and evidence hashes (exit 0 holds, 1 a finding).

    Without --store the signers' identity and the case's chain cannot be checked: the
    report is then never called verified, and what was not checked is listed.
    """
    from gcms.report.lab import load_lab_profile
    from gcms.report.verify import verify_report

    ca = load_lab_profile(lab).ca_certificate if lab else None
    if store_location is not None:
        with _open_store(store_location, None) as store:
            outcome = verify_report(pdf, store=store, results=results, rehash=rehash,
                                    ca_certificate=ca)
    else:
        outcome = verify_report(pdf, results=results, rehash=rehash, ca_certificate=ca)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        if outcome.findings:
            verdict = f"FAILS: {len(outcome.findings)} problem(s)"
        elif outcome.unchecked:
            verdict = ("NOT verified: no problem in what was checked, but "
                       f"{len(outcome.unchecked)} thing(s) could not be checked")
        else:
            verdict = "verified"
        click.echo(f"{pdf}: report {outcome.report_id or '?'}: {verdict}")
        for line in outcome.checked:
            click.echo(f"  ok    {line}")
        for line in outcome.findings:
            click.echo(f"  FAIL  {line}")
        for line in outcome.unchecked:
            click.echo(f"  NOT CHECKED  {line}")
    sys.exit(EXIT_OK if outcome.ok else EXIT_FINDINGS)


@report.command("list")
@click.option("--case", "case_id", required=True, help="The case.")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Case store.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_guarded
def list_reports(case_id, store_location, as_json):
    """The reports of a case: issued, superseded and draft, with their file SHA-256."""
    from gcms.custody.reports import reports

    with _open_store(store_location, None) as store:
        found = reports(store, case_id)
    if as_json:
        emit_json([r.to_dict() for r in found])
        return
    if not found:
        click.echo(f"case {case_id}: no report recorded")
    for r in found:
        signers = ", ".join(f"{s.get('printed_name')} ({s.get('meaning')})"
                            for s in r.signers) or "unsigned"
        click.echo(f"{r.report_id}  {r.status.upper()}  exhibit {r.exhibit_id}  analysis "
                   f"{r.analysis_id or '—'}  {r.file_format} {r.languages}  sha256 "
                   f"{r.file_sha256}")
        extra = [f"signed: {signers}", f"chain head #{r.chain_head_seq}"]
        if r.unmet:
            extra.append(f"policy not met: {', '.join(r.unmet)}")
        if r.supersedes:
            extra.append(f"supersedes {r.supersedes}")
        if r.superseded_by:
            extra.append(f"superseded by {r.superseded_by}")
        click.echo("    " + "; ".join(extra))


@report.group("ca")
def ca_group() -> None:
    """A lab CA (ECDSA P-256) issuing analysts X.509 certificates any PDF validator checks."""


@ca_group.command("new")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--name", required=True, help="The CA's name (e.g. 'Example Lab signing CA').")
@click.option("--organisation", help="The laboratory.")
@click.option("--passphrase-env", default="GCMS_CA_PASSPHRASE", show_default=True,
              help="Environment variable holding the CA key's passphrase; prompted when unset.")
@_guarded
def ca_new(directory, name, organisation, passphrase_env):
    """Make DIRECTORY/lab-ca.key (encrypted) and DIRECTORY/lab-ca.pem."""
    from gcms.report.sign import new_lab_ca

    key, cert = new_lab_ca(directory, name=name, organisation=organisation,
                           passphrase=_passphrase(passphrase_env, "Passphrase of the CA key"))
    click.echo(f"lab CA {name}: key {key}, certificate {cert} (name it in the lab profile: "
               "[policy] ca_certificate)")


@ca_group.command("issue")
@click.option("--ca", "ca_directory", required=True, type=click.Path(file_okay=False),
              help="Folder of the lab CA (gcms report ca new).")
@click.option("--user", required=True, help="The analyst's user id.")
@click.option("--name", "printed_name", required=True, help="The printed name (21 CFR 11.50).")
@click.option("--organisation", help="The laboratory.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="PKCS#12 file to write (and its certificate beside it, .pem).")
@click.option("--ca-passphrase-env", default="GCMS_CA_PASSPHRASE", show_default=True)
@click.option("--passphrase-env", default=PASSPHRASE_ENV, show_default=True,
              help="Environment variable holding the new PKCS#12 file's passphrase.")
@_guarded
def ca_issue(ca_directory, user, printed_name, organisation, output, ca_passphrase_env,
             passphrase_env):
    """Issue an analyst an ECDSA P-256 key and certificate (PKCS#12) from the lab CA."""
    from gcms.report.sign import issue_analyst_certificate

    p12, pem = issue_analyst_certificate(
        ca_directory, _passphrase(ca_passphrase_env, "Passphrase of the CA key"),
        user=user, printed_name=printed_name, organisation=organisation, output=output,
        passphrase=_passphrase(passphrase_env, f"Passphrase of {output}"))
    click.echo(f"{p12}: key and certificate of {printed_name} ({user}); certificate {pem}")


@report.command("schema")
def schema_command():
    """Print the JSON Schema of the report JSON."""
    from gcms.report.jsonout import schema

    emit_json(schema())
