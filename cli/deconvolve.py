"""``gcms deconvolve``: components with pure spectra from one run."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_INPUT, EXIT_OK, emit_json, error_line, guarded

#: Ions listed per component in the human-readable table.
_TOP_IONS = 6


def _pair(kind: type, label: str):
    def parse(ctx, param, value: str | None):
        if value is None:
            return None
        try:
            first, second = (kind(v) for v in value.split(","))
        except ValueError as error:
            raise click.BadParameter(f"expected {label}, got {value!r}") from error
        if second < first:
            raise click.BadParameter(f"{value!r}: the second value is below the first")
        return first, second

    return parse


def _ions(ctx, param, value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as error:
        raise click.BadParameter(f"expected m/z values separated by commas, got {value!r}") \
            from error


def _json_component(component) -> dict:
    """The fields of the deconvolve contract, exactly."""
    return {
        "rt_s": component.rt_s,
        "scan": component.scan,
        "area": component.area,
        "height": component.height,
        "snr": component.snr,
        "model_mz": component.model_mz,
        "purity": component.purity,
        "spectrum": {"mz": component.spectrum.mz.tolist(),
                     "intensity": component.spectrum.intensity.tolist()},
    }


def _human(path: str, result) -> str:
    lines = [f"{path}: {len(result)} components "
             f"(peak width {result.peak_width_s:.2f} s, noise factor "
             f"{result.noise.factor:.2f}, m/z {result.mz_range[0]}-{result.mz_range[1]})"]
    rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(result.rejected.items()))
    if rejected:
        lines.append(f"  candidates rejected: {rejected}")
    lines.append(f"  {'RT (min)':>8} {'RT (s)':>8} {'scan':>6} {'model':>5} {'S/N':>8} "
                 f"{'purity':>6} {'area':>11}  main ions (% of base)")
    for c in result.components:
        order = c.spectrum.intensity.argsort()[::-1][:_TOP_IONS]
        base = c.spectrum.intensity.max()
        ions = " ".join(f"{int(c.spectrum.mz[i])}({100 * c.spectrum.intensity[i] / base:.0f})"
                        for i in order)
        lines.append(f"  {c.rt_s / 60:8.3f} {c.rt_s:8.2f} {c.scan:6d} {c.model_mz:5d} "
                     f"{c.snr:8.1f} {c.purity:6.2f} {c.area:11.4g}  {ions}")
        lines.extend(f"           ! {note}" for note in c.warnings)
    return "\n".join(lines)


@click.command()
@click.argument("run_path", metavar="RUN", type=click.Path())
@click.option("--json", "as_json", is_flag=True,
              help='Print {"path", "components": [{rt_s, scan, area, height, snr, model_mz, '
                   'purity, spectrum}]} as JSON.')
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a figure: the TIC with the components marked (PNG, PDF, SVG).")
@click.option("--window", callback=_pair(float, "t0,t1 in seconds"),
              help="With --plot: also show the model-peak profiles between t0 and t1 s.")
@click.option("--sensitivity", default="medium", show_default=True,
              type=click.Choice(["very low", "low", "medium", "high", "very high"]),
              help="How weak a component may be.")
@click.option("--resolution", default="medium", show_default=True,
              type=click.Choice(["low", "medium", "high"]),
              help="How close two components may elute and be told apart.")
@click.option("--shape", "shape_requirement", default="medium", show_default=True,
              type=click.Choice(["low", "medium", "high"]),
              help="How much a component's profile must look like a peak.")
@click.option("--mz-range", callback=_pair(int, "low,high nominal m/z"),
              help="m/z range used, e.g. 35,550 (default: the run's own, from 35).")
@click.option("--exclude", callback=_ions, help="Ions to leave out, e.g. 28,32,44.")
@click.option("--peak-width", type=float, help="Typical FWHM in seconds (default: measured).")
@guarded
def deconvolve(run_path: str, as_json: bool, plot_path: str | None,
               window: tuple[float, float] | None, sensitivity: str, resolution: str,
               shape_requirement: str, mz_range: tuple[int, int] | None,
               exclude: tuple[int, ...], peak_width: float | None) -> None:
    """Deconvolute RUN into components with pure spectra (AMDIS-style).

    Prints one line per component (apex, model ion, S/N, purity, area, main ions) and
    the warnings of co-eluting components. Exit 0 on success, 2 when RUN cannot be read
    or the options are invalid.
    """
    from gcms.deconvolution import DeconvolutionSettings
    from gcms.deconvolution import deconvolve as run_deconvolution
    from gcms.io import read

    try:
        settings = DeconvolutionSettings(
            sensitivity=sensitivity, resolution=resolution,
            shape_requirement=shape_requirement,
            mz_min=mz_range[0] if mz_range else None, mz_max=mz_range[1] if mz_range else None,
            excluded_mz=exclude, peak_width_s=peak_width,
        )
    except ValueError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    run = read(run_path)
    result = run_deconvolution(run, settings)
    if as_json:
        emit_json({"path": run_path,
                   "components": [_json_component(c) for c in result.components]})
    else:
        click.echo(_human(run_path, result))
    if plot_path:
        from gcms.deconvolution.plot import deconvolution_figure

        deconvolution_figure(run, result, window=window).savefig(plot_path, dpi=150)
        if not as_json:
            click.echo(plot_path)
    sys.exit(EXIT_OK)
