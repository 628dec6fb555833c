"""``gcms sequence check`` (intake of a sequence CSV) and ``gcms sequence import`` (a draft
from the runs' own vendor records)."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, emit_json, error_line, guarded


@click.group()
def sequence() -> None:
    """Check a sequence CSV, or draft one from the instrument's own records."""


@sequence.command("check")
@click.argument("sequence_path", metavar="SEQUENCE.csv", type=click.Path())
@click.option("--no-files", is_flag=True,
              help="Do not open the run files (skip the same-file and missing-file checks).")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@guarded
def check(sequence_path: str, no_files: bool, as_json: bool) -> None:
    """Check SEQUENCE.csv as `gcms batch` does before any work, and list every problem.

    Column names (with the closest known name for a misspelling; the lab's own columns
    start with x_), the columns each run type requires, numbers and units, case, exhibit
    and sample ids, and the run files (the same file under two sample ids is an error; a
    missing file a warning). Each problem names the file, the line and the column.

    Exit 0 when the sequence is valid (warnings allowed), 1 when it is not, 2 when the
    file cannot be read.
    """
    from gcms.sequence import check_sequence

    result = check_sequence(sequence_path, evidence=not no_files)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.text())
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)


@sequence.command("import")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="The sequence CSV to write (refused if it exists, unless --force).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the drafted rows as JSON.")
@guarded
def import_(runs: tuple[str, ...], output: str, force: bool, as_json: bool) -> None:
    """Draft a sequence CSV from each RUN.D's own record of its injection.

    Reads AcqData/sequence.xml and sample_info.xml (MassHunter), or the data.ms header
    (ChemStation), and writes one row per run in acquisition order. Vendor sample types
    map to sequence types as: Blank/MatrixBlank/DoubleBlank -> blank; Calibration ->
    standard; QC/CC/ResponseCheck/Check... -> qc; Sample -> sample. A type the vendor did
    not give (or that the sample name contradicts, such as a "Check standard" typed
    Sample), and every value read from a sample name, is a guess listed in the row's
    x_confirm column: `gcms sequence check` refuses the row until the analyst has
    confirmed it and emptied the cell.
    """
    from pathlib import Path

    from gcms.io.agilent_sequence import draft_sequence, mapping_lines, summary, write_draft

    target = Path(output)
    if target.exists() and not force:
        error_line(f"{target}: exists; choose another name or add --force")
        sys.exit(EXIT_INPUT)
    try:
        rows = draft_sequence(runs, relative_to=target.parent)
        write_draft(rows, target)
    except OSError as error:
        error_line(f"{target}: {error.strerror or error}")
        sys.exit(EXIT_INPUT)
    counts = summary(rows)
    if as_json:
        emit_json({"output": str(target), **counts,
                   "rows": [{"cells": dict(r.cells), "guessed": list(r.guessed)}
                            for r in rows]})
        sys.exit(EXIT_OK)
    click.echo(f"{target}: {counts['n_runs']} runs in acquisition order ("
               + ", ".join(f"{n} {kind}" for kind, n in counts["types"].items()) + ")")
    for row in rows:
        cells = row.cells
        line = f"  {cells['sample_id']:<14} {cells['type']:<9} {cells['x_sample_name']!s:<36}"
        line += f" [{cells['x_type_from']}]"
        if row.guessed:
            line += f"  to confirm: {', '.join(row.guessed)}"
        click.echo(line)
    click.echo("vendor sample type -> type: " + "; ".join(mapping_lines()))
    if counts["to_confirm"]:
        click.echo(f"{counts['to_confirm']} rows hold guesses (x_confirm): check them, empty "
                   f"x_confirm, then run: gcms sequence check {target}")
    sys.exit(EXIT_OK)
