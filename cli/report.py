"""``gcms report``: an exhibit's report as PDF (signed), JSON or CSV; ``gcms report verify``.

::

    gcms report RESULTS.json --exhibit E -o report.pdf [--language en|ar|ar,en] [--lab LAB.toml]
    gcms report --store S [--case C] --exhibit E -o report.pdf
    gcms report ... --sign-key KEY --signer NAME --meaning authored     # PAdES, gcms key
    gcms report ... --pkcs12 LAB.p12 --signer NAME --meaning approved   # PAdES, lab PKI
    gcms report ... -o report.json | -o verdicts.csv                     # or --format
    gcms report sign report.pdf --sign-key KEY --signer NAME --meaning reviewed
    gcms report verify report.pdf [--store S | --results RESULTS.json] [--rehash]
    gcms report schema                                                   # the JSON Schema
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, emit_json, error_line

#: Environment variable read for a key's (or PKCS#12 file's) passphrase; prompted otherwise.
PASSPHRASE_ENV = "GCMS_KEY_PASSPHRASE"
_FORMATS = {".pdf": "pdf", ".json": "json", ".csv": "csv"}


def _guarded(function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gcms.errors import GcmsError

        try:
            return function(*args, **kwargs)
        except GcmsError as error:
            error_line(str(error))
            sys.exit(EXIT_INPUT)

    return wrapper


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
    if os.environ.get(env_name):
        return os.environ[env_name]
    return click.prompt(prompt, hide_input=True, err=True)


def _signing_options(function: Callable) -> Callable:
    options = [
        click.option("--sign-key", type=click.Path(dir_okay=False),
                     help="Sign (PAdES) with this gcms analyst key (gcms key new)."),
        click.option("--pkcs12", type=click.Path(dir_okay=False),
                     help="Sign (PAdES) with this PKCS#12 file of the lab's PKI."),
        click.option("--signer", help="Printed name of the signer (21 CFR 11.50)."),
        click.option("--meaning", type=click.Choice(["authored", "reviewed", "approved"]),
                     default="authored", show_default=True, help="Meaning of the signature."),
        click.option("--user", help="The signer's user id (put in the certificate)."),
        click.option("--passphrase-env", default=PASSPHRASE_ENV, show_default=True,
                     help="Environment variable holding the passphrase; prompted when unset."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _signing(sign_key, pkcs12, signer, passphrase_env):
    """The unlocked signing material, or None when no signature is asked for."""
    if sign_key is None and pkcs12 is None:
        return None
    if sign_key and pkcs12:
        raise click.UsageError("give --sign-key or --pkcs12, not both")
    if not signer:
        raise click.UsageError("--signer NAME is required to sign (the printed name)")
    if sign_key:
        from gcms.custody import load_signing_key

        return {"key": load_signing_key(sign_key, _passphrase(passphrase_env,
                                                              f"Passphrase of {sign_key}"))}
    return {"pkcs12": pkcs12,
            "pkcs12_passphrase": _passphrase(passphrase_env, f"Passphrase of {pkcs12}")}


def _write(path: Path, data: bytes) -> None:
    from gcms.errors import GcmsError

    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as error:
        raise GcmsError(f"{path}: cannot write ({error.strerror or error})") from None


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
              help="Laboratory profile (TOML): name, address, accreditation, logo.")
@click.option("--translations", type=click.Path(exists=True, file_okay=False),
              help="Folder of the lab's own <language>.toml wording.")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Case store to report from (instead of RESULTS).")
@click.option("--case", "case_id", help="Case of the exhibit (when the store has several).")
@click.option("--library", type=click.Path(exists=True, dir_okay=False),
              help="The batch's library file: draws the library entry's spectrum.")
@click.option("--report-id", help="The lab's report number [default: case-exhibit-digest].")
@click.option("--not-reportable-ok", "not_reportable_ok", is_flag=True,
              help="Make the report of an exhibit the batch withheld (instrument QA not "
                   "passing) for review: marked NOT REPORTABLE on every page, never signed.")
@_signing_options
@_guarded
def make(results, exhibit_id, output, fmt, languages, lab, translations, store_location,
         case_id, library, report_id, not_reportable_ok, sign_key, pkcs12, signer, meaning,
         user, passphrase_env):
    """Make the report of one exhibit.

    An exhibit the batch marked not reportable (its instrument QA was not passing) gets
    no report (exit 1) unless --not-reportable-ok asks for a review copy.
    """
    from gcms.report.adapters import from_results, from_store
    from gcms.report.jsonout import report_csv, report_json_bytes
    from gcms.report.lab import LabProfile, load_lab_profile
    from gcms.report.model import SignatureLine

    output = Path(output)
    fmt = fmt or _FORMATS.get(output.suffix.lower(), "pdf")
    if (results is None) == (store_location is None):
        raise click.UsageError("give RESULTS.json or --store (one of them)")
    profile = load_lab_profile(lab) if lab else LabProfile(laboratory=None)
    options = {"laboratory": profile.laboratory, "library": library, "report_id": report_id}
    if results is not None:
        model = from_results(results, exhibit_id, **options)
    else:
        from gcms.custody import CaseStore

        with CaseStore(store_location, create=False) as store:
            model = from_store(store, exhibit_id, case_id=case_id, **options)
    if model.withheld:
        if not not_reportable_ok:
            error_line(f"exhibit {exhibit_id} is not reportable: the batch withheld its "
                       f"results ({'; '.join(model.withheld)}); re-analyse it on an "
                       "instrument that passes its QA, or give --not-reportable-ok for a "
                       "review copy marked NOT REPORTABLE")
            sys.exit(EXIT_FINDINGS)
        if sign_key or pkcs12:
            raise click.UsageError("a not-reportable exhibit's review copy is not signed")
    if fmt == "json":
        _write(output, report_json_bytes(model))
    elif fmt == "csv":
        _write(output, report_csv(model).encode("utf-8"))
    else:
        from gcms.report.pdf import render_pdf
        from gcms.report.sign import sign_pdf

        material = _signing(sign_key, pkcs12, signer, passphrase_env)
        if material is not None:
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            fingerprint = material["key"].fingerprint if "key" in material else None
            model = model.replace(signatures=(*model.signatures, SignatureLine(
                signer, meaning, now, "pdf", user, fingerprint, "this PDF")))
        data = render_pdf(model, languages=languages or ",".join(profile.languages),
                          translations=translations or profile.translations)
        if material is not None:
            data = sign_pdf(data, printed_name=signer, meaning=meaning, user=user,
                            organisation=model.laboratory.name if lab else None, **material)
        _write(output, data)
    identified = ", ".join(model.conclusion.identified) or "none"
    click.echo(f"{output}: report {model.report_id}, case {model.case_id}, exhibit "
               f"{model.exhibit_id}; identified: {identified}"
               + ("; signed" if fmt == "pdf" and (sign_key or pkcs12) else "")
               + ("; NOT REPORTABLE (review copy)" if model.withheld else ""))


@report.command("sign")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Signed copy [default: sign in place, as an incremental update].")
@_signing_options
@_guarded
def sign(pdf, output, sign_key, pkcs12, signer, meaning, user, passphrase_env):
    """Add a signature (e.g. the technical reviewer's) to a report PDF."""
    from gcms.report.sign import read_pdf, sign_pdf

    material = _signing(sign_key, pkcs12, signer, passphrase_env)
    if material is None:
        raise click.UsageError("give --sign-key or --pkcs12")
    data = sign_pdf(read_pdf(pdf), printed_name=signer, meaning=meaning, user=user,
                    **material)
    target = Path(output or pdf)
    _write(target, data)
    click.echo(f"{target}: signed by {signer} ({meaning})")


@report.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False))
@click.option("--store", "store_location", default=None, metavar="DIR|URL",
              help="Case store: signing keys registered, evidence digests as stored.")
@click.option("--results", type=click.Path(exists=True, dir_okay=False),
              help="Batch results.json: evidence digests as the batch recorded them.")
@click.option("--rehash", is_flag=True, help="Re-hash the evidence files still on disk.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_guarded
def verify(pdf, store_location, results, rehash, as_json):
    """Check a report's signatures and evidence hashes (exit 0 holds, 1 a finding)."""
    from gcms.report.verify import verify_report

    if store_location is not None:
        from gcms.custody import CaseStore

        with CaseStore(store_location, create=False) as store:
            outcome = verify_report(pdf, store=store, results=results, rehash=rehash)
    else:
        outcome = verify_report(pdf, results=results, rehash=rehash)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        click.echo(f"{pdf}: report {outcome.report_id or '?'}: "
                   + ("verified" if outcome.ok else f"{len(outcome.findings)} problem(s)"))
        for line in outcome.checked:
            click.echo(f"  ok    {line}")
        for line in outcome.findings:
            click.echo(f"  FAIL  {line}")
    sys.exit(EXIT_OK if outcome.ok else EXIT_FINDINGS)


@report.command("schema")
def schema_command():
    """Print the JSON Schema of the report JSON."""
    from gcms.report.jsonout import schema

    emit_json(schema())
