"""``gcms library add``: an in-house library entry from a reference-standard run."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_OK, emit_json, guarded


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
@guarded
def add(library_path, run_path, rt_s, name, cas, inchikey, formula, retention_index,
        ri_column, rt_tolerance, title, min_relative, min_self_match, as_json) -> None:
    """Add the deconvoluted component at --rt of a reference-standard run to LIB.h5.

    The spectrum is cleaned (background subtracted, peaks under --min-relative % of the
    base peak dropped) and the standard must match itself across its peak (upslope,
    apex and downslope spectra at MF --min-self-match or more). The entry keeps its
    provenance (source run path, SHA-256, instrument, acquisition date, RT and RI, the
    cleaning and the self-match), which every search hit on it shows. LIB.h5 is created
    when absent and rewritten atomically. Exit 0 when added, 2 when the run or library
    cannot be used, no component lies near --rt, the standard is not one compound, or
    the same entry is already there.
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
    library = add_to_library(library_path, entry, title=title)
    record = entry.provenance
    if as_json:
        emit_json({**entry.to_dict(), "library": str(library_path), "index": len(library) - 1,
                   "library_sha256": library.content_sha256})
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
    sys.exit(EXIT_OK)
