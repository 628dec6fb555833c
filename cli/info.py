"""``gcms info`` and ``gcms plot``: what a file holds, and its chromatogram."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_INPUT, EXIT_OK, emit_json, error_line, guarded


def _human(summary: dict) -> str:
    def fmt_range(values, unit="", digits=2):
        return "-" if not values else f"{values[0]:.{digits}f} - {values[1]:.{digits}f}{unit}"

    lines = [summary["path"]]
    if "n_spectra" in summary:
        rows = [
            ("format", summary["format"]),
            ("spectra", f"{summary['n_spectra']} ({summary['n_skipped']} skipped)"),
            ("m/z", fmt_range(summary["mz_range"], digits=1)),
            ("sha256", summary["sha256"]),
        ]
        rows += [("skipped", reason) for reason in summary["skipped"]]
    else:
        rows = [
            ("format", f"{summary['format']} ({summary['acquisition']}, {summary['detector']})"),
            ("scans", summary["n_scans"]),
            ("time", fmt_range(summary["rt_range_s"], " s")),
            ("m/z", fmt_range(summary["mz_range"], digits=1)),
            ("TIC max", f"{summary['tic_max']:.6g}" if summary["tic_max"] is not None else "-"),
            ("sample", summary["sample_name"]),
            ("acquired", summary["acquired_at"]),
            ("operator", summary["operator"]),
            ("instrument", summary["instrument"]),
            ("method", summary["method"]),
            ("tune file", summary["tune_file"]),
            ("vendor peaks", summary["vendor_peaks"]),
            ("data file", summary["data_file"]),
            ("sha256", summary["sha256"]),
        ]
    lines += [f"  {label:<12} {value}" for label, value in rows if value is not None]
    return "\n".join(lines)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, as a list.")
def info(files: tuple[str, ...], as_json: bool) -> None:
    """Format, scans, time and m/z range, TIC maximum, metadata and SHA-256 of FILES.

    Exit 0 when every file was read, 2 when any could not be (one line each on stderr;
    the other files are still reported).
    """
    from gcms.errors import GcmsError
    from gcms.info import describe

    summaries, failed = [], False
    for path in files:
        try:
            summaries.append(describe(path))
        except GcmsError as error:
            error_line(str(error))
            failed = True
    if as_json:
        emit_json(summaries)
    else:
        click.echo("\n\n".join(_human(s) for s in summaries))
    sys.exit(EXIT_INPUT if failed else EXIT_OK)


def _mz_list(ctx, param, value: str | None) -> tuple[float, ...]:
    if not value:
        return ()
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError as error:
        message = f"expected m/z values separated by commas, got {value!r}"
        raise click.BadParameter(message) from error


@click.command()
@click.argument("file", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Image file to write (PNG, PDF or SVG by extension).")
@click.option("--mz", callback=_mz_list, help="Extracted ions instead of the TIC, e.g. 58,91.")
@click.option("--tolerance", default=0.5, show_default=True, help="m/z window half-width.")
@guarded
def plot(file: str, output: str, mz: tuple[float, ...], tolerance: float) -> None:
    """Plot the TIC (or extracted ions) of FILE into an image."""
    from gcms.io import read
    from gcms.plot import chromatogram

    run = read(file)
    chromatogram(run, mz=mz, tolerance=tolerance).savefig(output, dpi=150)
    click.echo(output)
