"""``gcms library add``: an in-house library entry from a reference-standard run."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_INPUT, EXIT_OK, emit_json, error_line


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
@click.option("--json", "as_json", is_flag=True, help="Print the new entry as JSON.")
def add(library_path, run_path, rt_s, name, cas, inchikey, formula, retention_index,
        ri_column, rt_tolerance, title, as_json) -> None:
    """Add the deconvoluted component at --rt of a reference-standard run to LIB.h5.

    The entry keeps its provenance (source run path, SHA-256, instrument, acquisition
    date, RT and RI), which every search hit on it shows. LIB.h5 is created when absent
    and rewritten atomically. Exit 0 when added, 2 when the run or library cannot be
    used, no component lies near --rt, or the same entry is already there.
    """
    import gcms.io
    from gcms.errors import GcmsError
    from gcms.quantitation.inhouse import add_to_library, entry_from_run

    try:
        run = gcms.io.read(run_path)
        entry = entry_from_run(run, rt_s, name=name, cas=cas, inchikey=inchikey,
                               formula=formula, retention_index=retention_index,
                               ri_column=ri_column, rt_tolerance_s=rt_tolerance)
        library = add_to_library(library_path, entry, title=title)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
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
        for warning in record["warnings"]:
            click.echo(f"  warning: {warning}")
    sys.exit(EXIT_OK)
