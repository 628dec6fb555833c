"""``gcms quant``: quantitation of a sequence against its own reference standards.

Also extends ``gcms batch`` (see :mod:`gcms_cli.identify`): ``--method METHOD.toml``
adds :class:`gcms.quantitation.batch.QuantitationStep`, so each run's record in the
batch's results.json gains its ``quantitation`` and the batch folder its
calibration.json and calibration plots.
"""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_OK, emit_json, error_line, guarded

#: Options ``gcms batch`` takes from this module (:mod:`gcms_cli.identify`).
BATCH_OPTIONS = [
    click.Option(["--method", "quant_method"], metavar="METHOD.toml",
                 help="Quantitation method (a TOML file, or a name in $GCMS_METHODS or "
                      "./instruments/methods): every run's record gains its quantitation "
                      "(checked against its identification), OUT gains calibration.json "
                      "and a calibration plot per analyte; a failed calibration or check "
                      "standard exits 1."),
]


def batch_steps(options: dict) -> list:
    """The batch step of ``--method`` (none without it); a bad method is a usage error."""
    name = options.get("quant_method")
    if not name:
        return []
    from gcms.errors import GcmsError
    from gcms.quantitation.batch import load_step

    try:
        return [load_step(name)]
    except GcmsError as error:
        raise click.UsageError(f"--method: {error}") from None


def _num(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _calibration_lines(result) -> list[str]:
    lines = []
    for name, c in result.calibrations.items():
        if not c.ok:
            lines.append(f"  {name}: FAILED - {'; '.join(c.reasons)}")
            continue
        fit = c.fit
        terms = f"a = {fit.intercept:.5g}, b = {fit.slope:.5g}"
        if c.model == "quadratic":
            terms += f", c = {fit.curvature:.5g}"
        used = sum(p.used for p in c.points)
        lines.append(f"  {name}: {c.model.replace('_', ' ')}, weights {c.weighting}, "
                     f"{terms}, R² = {fit.r_squared:.5f}, {used}/{len(c.points)} calibrators, "
                     f"{c.range[0]:g}-{c.range[1]:g} {c.unit}")
        lines.append(f"    response: {c.response}")
        lines.append(f"    LOD {_num(c.lod, 3)} / LOQ {_num(c.loq, 3)} {c.unit} (calibration, "
                     f"3.3 and 10 s/b); blanks: "
                     + (f"LOD {_num(c.lod_blank, 3)} / LOQ {_num(c.loq_blank, 3)}"
                        if c.loq_blank is not None else (c.blank_note or "-"))
                     + f"; reporting LOQ {c.reporting_loq:g} {c.unit} "
                     f"({c.loq_basis.replace('_', ' ')})")
        for p in c.points:
            mark = "" if p.used else f"  [{p.reason}]"
            lines.append(f"    {p.sample_id:<14} {p.concentration:>9g}  back-calc "
                         f"{_num(p.back_calculated):>8} ({_num(p.accuracy_percent, 4)} %){mark}")
        for flag in c.flags:
            lines.append(f"    note: {flag}")
    return lines


def _quantity_text(q) -> str:
    if q.concentration is not None:
        text = (f"{q.concentration:.4g} ± {q.expanded_uncertainty:.2g} {q.unit} "
                f"(k = {q.coverage_factor:.2f})")
    else:
        text = q.status
    if q.amount is not None and q.amount.mass_mg is not None:
        amount = q.amount
        text += f"; {amount.mass_mg:.4g} mg in the exhibit"
        if amount.purity_percent is not None:
            text += f", {amount.purity_percent:.3g} % w/w"
        if amount.per_unit_mg is not None:
            text += f", {amount.per_unit_mg:.4g} {amount.per_unit}"
    if q.check is not None and q.role == "check":
        verdict = "pass" if q.check.passed else "FAIL"
        text += f"; check {q.check.nominal:g}: {_num(q.check.recovery_percent, 4)} % {verdict}"
    return text


def _summary(result, written) -> str:
    method = result.method
    lines = [f"method   {method.name}" + (f" ({method.path})" if method.path else ""),
             f"sequence {result.sequence_path}: {len(result.records)} runs", "",
             "calibration"]
    lines += _calibration_lines(result)
    lines += ["", "results (concentration in the injected solution)"]
    width = max((len(r.sample_id) for r in result.records), default=8)
    for record in result.records:
        head = f"  {record.sample_id:<{width}}  {record.injection.type:<8}"
        if record.error:
            lines.append(f"{head}  ERROR {record.error}")
            continue
        for q in record.quantities:
            if q.role == "calibrator":
                continue
            lines.append(f"{head}  {q.substance}: {_quantity_text(q)}")
            note = q.message if q.status != "quantified" else None
            for item in ([note] if note else []) + list(q.flags):
                lines.append(f"{'':<{width + 14}}{item}")
    findings = result.findings
    lines.append("")
    lines.extend(f"FAILED: {f}" for f in findings)
    if not findings:
        lines.append("all calibrations and check standards passed")
    lines.append("written: " + ", ".join(str(p) for p in written))
    return "\n".join(lines)


@click.command()
@click.argument("sequence", type=click.Path())
@click.option("--method", "method_name", required=True,
              help="Quantitation method: a TOML file, or the name of one in $GCMS_METHODS "
                   "or ./instruments/methods.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for results.json, calibration.json, plots and a CSV table.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json on stdout.")
@guarded
def quant(sequence: str, method_name: str, out_dir: str, as_json: bool) -> None:
    """Quantify the analytes of METHOD in every run of SEQUENCE (a sequence CSV).

    Calibrators are the sequence's standard rows (concentration, unit); qc rows with a
    concentration are checked against it; samples get a concentration with its
    uncertainty and, from amount / volume_ml / dilution, the amount in the exhibit.
    Exit 0 when every calibration and check standard passed, 1 when one failed or a run
    could not be read (the others are still reported), 2 for an unusable sequence,
    method or output folder.
    """
    from gcms.quantitation import load_method, quantitate, write_results
    from gcms.quantitation.method import find_method
    from gcms.sequence import read_sequence

    method = load_method(find_method(method_name))
    seq = read_sequence(sequence)
    if sys.stderr.isatty() and not as_json:
        with click.progressbar(length=len(seq), label="measuring runs",
                               file=sys.stderr) as bar:
            result = quantitate(seq, method, progress=lambda _: bar.update(1))
    else:
        result = quantitate(seq, method)
    written = write_results(result, out_dir)
    for record in result.records:
        if record.error:
            error_line(record.error)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(_summary(result, written))
    sys.exit(EXIT_FINDINGS if result.findings else EXIT_OK)
