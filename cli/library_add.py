"""``gcms library add``: an in-house library entry from a reference-standard run."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_OK, emit_json, guarded


def _governed(function):
    """--store/--actor and --key/--passphrase-env (not required), as 'library correct'."""
    from gcms_cli.custody import _key_option, _store_options

    return _store_options(_key_option(required=False)(function))


@click.command("add")
@click.argument("library_path", metavar="LIB.h5", type=click.Path(dir_okay=False))
@click.option("--from-run", "run_path", required=True, type=click.Path(),
              help="The reference-standard run (any format gcms reads).")
@click.option("--rt", "rt_s", required=True, type=float,
              help="Retention time of the substance in that run (seconds).")
@click.option("--name", required=True, help="Name of the substance.")
@click.option("--cas", default=None, help="CAS registry number.")
@click.option("--inchikey", default=None, help="InChIKey.")
@click.option("--formula", default=None, help="Molecular formula.")
@click.option("--ri", "retention_index", type=float, default=None,
              help="Retention index of the substance on this column, if known.")
@click.option("--ri-column", default=None, help="Column type the RI belongs to.")
@click.option("--rt-tolerance", type=float, default=5.0, show_default=True,
              help="How far (s) the component's apex may be from --rt.")
@click.option("--title", default="in-house library", show_default=True,
              help="Title of a library created by this command.")
@click.option("--min-relative", type=click.FloatRange(0, 100), default=None,
              help="Drop peaks under this % of the base peak (default 0.5).")
@click.option("--min-self-match", type=click.FloatRange(0, 999), default=None,
              help="Least MF between the spectra across the peak (upslope, apex, "
                   "downslope; default 800): below it the standard is refused.")
@click.option("--json", "as_json", is_flag=True, help="Print the new entry as JSON.")
@click.option("--library-id", default=None,
              help="With --store: the library's id in the store (default: the file's stem).")
@click.option("--reason", default=None,
              help="With --store: why the entry is added (recorded; default: the standard "
                   "and its run).")
@_governed
@guarded
def add(library_path, run_path, rt_s, name, cas, inchikey, formula, retention_index,
        ri_column, rt_tolerance, title, min_relative, min_self_match, as_json, library_id,
        reason, key_file, passphrase_env, store_location, actor) -> None:
    """Add the deconvoluted component at --rt of a reference-standard run to LIB.h5.

    The spectrum is cleaned (background subtracted, peaks under --min-relative % of the
    base peak dropped) and the standard must match itself across its peak (upslope,
    apex and downslope spectra at MF --min-self-match or more). The entry keeps its
    provenance (source run path, SHA-256, instrument, acquisition date, RT and RI, the
    cleaning and the self-match), which every search hit on it shows. LIB.h5 is created
    when absent and rewritten atomically. Exit 0 when added, 2 when the run or library
    cannot be used, no component lies near --rt, the standard is not one compound, or
    the same entry is already there.

    With --store (or GCMS_STORE) and --key the addition is a new version of the library
    in the case store, signed with your key, for another user to approve ('gcms library
    approve'), as 'library correct' and 'retire' are; the file is replaced only once the
    store has recorded it. Without a store the change is not recorded, and says so.
    """
    import gcms.io
    from gcms.quantitation.inhouse import (
        MIN_RELATIVE_PERCENT,
        MIN_SELF_MATCH_FACTOR,
        add_to_library,
        entry_from_run,
    )

    run = gcms.io.read(run_path)
    entry = entry_from_run(
        run, rt_s, name=name, cas=cas, inchikey=inchikey, formula=formula,
        retention_index=retention_index, ri_column=ri_column, rt_tolerance_s=rt_tolerance,
        min_relative_percent=MIN_RELATIVE_PERCENT if min_relative is None else min_relative,
        min_self_match=MIN_SELF_MATCH_FACTOR if min_self_match is None else min_self_match)
    version = None
    if store_location is None:
        library = add_to_library(library_path, entry, title=title)
    else:
        from gcms_cli.custody import _signed_store

        from gcms.custody.libraries import add_governed_entry

        with _signed_store(key_file, passphrase_env, store_location, actor) as (store, key):
            library, version = add_governed_entry(store, library_path, entry, key=key,
                                                  library_id=library_id, reason=reason,
                                                  title=title)
    record = entry.provenance
    if as_json:
        emit_json({**entry.to_dict(), "library": str(library_path), "index": len(library) - 1,
                   "library_sha256": library.content_sha256, "library_version": version})
    else:
        click.echo(f"added {name!r} as entry {len(library) - 1} of {library_path} "
                   f"({len(library)} entries, content sha256 {library.content_sha256[:16]}...)")
        click.echo(f"  from     {record['source_run']} (sha256 {str(record['sha256'])[:16]}...)")
        click.echo(f"  component at {record['rt_s']:.2f} s, model ion m/z {record['model_mz']}, "
                   f"{record['n_ions']} ions, purity {record['purity']:.2f}, "
                   f"S/N {record['snr']:.0f}")
        cleaning, check = record["cleaning"], record["self_match"]
        click.echo(f"  cleaned  background subtracted; {cleaning['n_ions_dropped']} of "
                   f"{cleaning['n_ions_fitted']} ions under "
                   f"{cleaning['min_relative_percent']:g} % of the base peak dropped")
        factors = ", ".join(f"{k} {v}" for k, v in check["match_factors"].items())
        click.echo(f"  one compound across the peak: MF {factors or 'not measured'} "
                   f"(least {check['threshold']:g})")
        for warning in record["warnings"]:
            click.echo(f"  warning: {warning}")
        if version is None:
            click.echo("  not recorded: no case store (give --store and --key to record the "
                       "addition as a signed library version)")
        else:
            click.echo(f"  recorded library {version['library_id']} v{version['version']} "
                       f"(add), identity {library.identity_sha256}; awaiting approval by "
                       f"another user ('gcms library approve {version['library_id']} "
                       f"{version['version']}')")
    sys.exit(EXIT_OK)
