"""``gcms compare``: AMDIS (and NIST MS Search) results beside gcms's, component by component."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_INPUT, EXIT_OK, emit_json, error_line


@click.command()
@click.argument("elu_path", metavar="ELU", type=click.Path())
@click.argument("run_path", metavar="RUN", type=click.Path())
@click.option("--library", "library_path", required=True, type=click.Path(),
              help="gcms library (built with 'gcms library build') searched for both tools.")
@click.option("--hits", "hits_path", type=click.Path(),
              help="NIST MS Search SRCRESLT.TXT of the ELU's components (AMDIS's hits).")
@click.option("--rt-tolerance", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Largest RT difference (s) for pairing an AMDIS and a gcms component.")
@click.option("--top", default=5, show_default=True, type=click.IntRange(min=1),
              help="Hits compared per component and tool.")
@click.option("--min-mf", default=800.0, show_default=True, type=click.FloatRange(0, 999),
              help="Least MF of a top hit for a verdict (else 'no match').")
@click.option("--json", "as_json", is_flag=True, help="Print settings, summary and rows as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="Also write the table as CSV (cells spreadsheet-safe).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Also write a figure: both tools' top-hit MF against RT (PNG, PDF, SVG).")
def compare(elu_path: str, run_path: str, library_path: str, hits_path: str | None,
            rt_tolerance: float, top: int, min_mf: float, as_json: bool,
            csv_path: str | None, plot_path: str | None) -> None:
    """Compare AMDIS's ELU with gcms's deconvolution and search of RUN.

    One row per component: paired by RT, both tools' top hit and MF, the MF between the
    two spectra, and whether the verdicts agree. Exit 0 on success, 2 on an input error.
    """
    from gcms.errors import GcmsError
    from gcms.interop import compare_files

    try:
        result = compare_files(elu_path, run_path, library_path, hits_path=hits_path,
                               rt_tolerance_s=rt_tolerance, top=top, min_match_factor=min_mf)
    except (GcmsError, ValueError, OSError) as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if csv_path:
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            handle.write(result.to_csv())
    if plot_path:
        from gcms.interop.plot import comparison_figure

        comparison_figure(result).savefig(plot_path, dpi=150)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.to_text())
    sys.exit(EXIT_OK)
