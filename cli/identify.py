"""``gcms identify`` (a few runs) and ``gcms batch`` (a whole instrument sequence).

Other command modules extend ``gcms batch`` without editing this file: each module
named in :data:`BATCH_EXTENSIONS` that is installed may define

``BATCH_OPTIONS``
    a list of ``click.Option`` objects, added to the command;
``batch_steps(options)``
    called with a dict of every option's value; returns the
    :class:`gcms.batch.BatchStep` objects to run (an empty list when its options are
    unused). Raising ``click.UsageError`` reports bad option values (exit 2).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import click
from gcms_cli._common import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_OK,
    emit_json,
    error_line,
    guarded,
    library_for,
)

#: Command modules that may add options and steps to ``gcms batch`` (module docstring).
BATCH_EXTENSIONS: tuple[str, ...] = ("gcms_cli.qa", "gcms_cli.quant", "gcms_cli.custody")

_CRITERIA_HELP = ("Identification criteria: a shipped profile (swgdrug-gcms, enfsi-dwg, "
                  "screening) or a TOML file.  [default: swgdrug-gcms]")
_LIBRARY_HELP = ("Compiled library (HDF5); required, except for the bundled demo data "
                 "(searched in the demo library).")


def _criteria(value: str | None):
    from gcms.identify import load_criteria

    return load_criteria(value)


def _fmt(value: Any, spec: str = "", dash: str = "-") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return dash
    return format(value, spec)


def _criteria_text(criteria) -> str:
    d = criteria.to_dict()
    lines = [f"{criteria.name}: {criteria.title}", f"  basis: {criteria.basis}",
             f"  from {criteria.source} (sha256 {criteria.sha256})"]
    for section in ("spectrum", "retention", "ions", "signal", "blank"):
        values = ", ".join(f"{k} = {v}" for k, v in d[section].items())
        lines.append(f"  [{section}] {values}")
    return "\n".join(lines)


def _record_text(record: dict[str, Any], *, all_components: bool) -> str:
    head = f"{record['file_name']} ({record['type']}"
    if record.get("exhibit_id"):
        head += f", exhibit {record['exhibit_id']}"
    head += ")"
    if record["status"] != "ok":
        return f"{head}: NOT PROCESSED: {record['problem']}"
    findings = record.get("findings") or {}
    lines = [f"{head}: {len(record['components'])} components"]
    identified = findings.get("identified", [])
    lines.append("  identified:   " + (", ".join(
        f"{f['substance']} (RT {f['rt_s'] / 60:.2f} min; {f['evidence']})" for f in identified)
        or "none"))
    for f in findings.get("inconclusive", []):
        lines.append(f"  inconclusive: {f['substance']} (RT {f['rt_s'] / 60:.2f} min; "
                     f"{f['evidence']}; held back by {', '.join(f['failed'])})")
    for note in findings.get("notes", []):
        lines.append(f"  {note['kind']}: {note['text']}")
    for problem in record.get("problems") or []:
        lines.append(f"  problem: {problem}")
    rows = [c for c in record["components"]
            if all_components or c["verdict"] != "not identified"]
    if rows:
        lines.append(f"  {'RT min':>7} {'RI':>7} {'S/N':>8}  {'MF/RMF':>7}  {'ΔRT s':>6} "
                     f"{'ΔRI':>6}  verdict         substance")
        for c in rows:
            ri = _fmt(c.get("retention_index"), ".0f")
            if c.get("ri_extrapolated"):
                ri += "*"
            mf = (f"{c['match_factor']}/{c['reverse_match_factor']}"
                  if c.get("match_factor") is not None else "-")
            lines.append(f"  {c['rt_s'] / 60:7.3f} {ri:>7} {c['snr']:8.1f}  {mf:>7}  "
                         f"{_fmt(c.get('delta_rt_s'), '+.2f'):>6} "
                         f"{_fmt(c.get('delta_ri'), '+.0f'):>6}  {c['verdict']:<15} "
                         f"{c['substance'] or '-'}")
            failed = c.get("failed") or []
            if failed and c["verdict"] != "not identified":
                details = {k["criterion"]: k["detail"] for k in c.get("criteria", [])}
                for name in failed:
                    lines.append(f"{'':>11}! {name}: {details.get(name, '')}")
    return "\n".join(lines)


def _evidence_line(record: dict[str, Any]) -> str:
    """One line for a ladder, blank or standard given with --ladder/--blank/--standard."""
    head = f"{record['file_name']} ({record['type']})"
    if record["status"] != "ok":
        return f"{head}: NOT PROCESSED: {record['problem']}"
    if record["type"] == "ladder":
        ladder = record.get("ladder")
        if not ladder:
            return f"{head}: {'; '.join(record.get('problems') or ['no ladder found'])}"
        members = ladder["members"]
        return (f"{head}: {members[0]['name']}-{members[-1]['name']}, {len(members)} members "
                f"({ladder['naming']['statement']})")
    if record["type"] == "standard":
        parts = [f"{r['substance']} at {r['rt_s']:.2f} s (MF {r['match_factor']})"
                 if r.get("found") else f"{r['substance']}: {r.get('problem')}"
                 for r in record.get("references", [])]
        return f"{head}: " + "; ".join(parts)
    status = record.get("blank_status") or {}
    own = status.get("substances_in_blank") or []
    return f"{head}: " + (f"holds {', '.join(own)}" if own else "no substance identified")


def _progress_bar(total: int, label: str):
    """A progress bar on stderr, and the callback that advances it."""
    bar = click.progressbar(length=total, label=label, file=sys.stderr,
                            show_pos=True, item_show_func=lambda item: item)

    def advance(event) -> None:
        bar.update(1, f"{event.file.rstrip('/').rsplit('/', 1)[-1]} {event.status}")

    return bar, advance


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--library", "library_path", type=click.Path(), help=_LIBRARY_HELP)
@click.option("--criteria", "criteria_name", help=_CRITERIA_HELP)
@click.option("--ladder", type=click.Path(),
              help="Alkane ladder run of the same sequence: retention indices for ΔRI.")
@click.option("--blank", type=click.Path(),
              help="Blank run injected before the RUNs: checked for each analyte.")
@click.option("--standard", "standards", multiple=True, metavar="RUN=SUBSTANCE[;...]",
              help="Reference standard run and the substance(s) it holds (repeatable).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes for reading, deconvoluting and searching.")
@click.option("--all", "all_components", is_flag=True,
              help="List every component, not only those identified or inconclusive.")
@click.option("--show-criteria", is_flag=True, help="Print the criteria profile and exit.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one result record per run (the layout of batch results.json).")
@guarded
def identify(runs: tuple[str, ...], library_path: str | None, criteria_name: str | None,
             ladder: str | None, blank: str | None, standards: tuple[str, ...], workers: int,
             all_components: bool, show_criteria: bool, as_json: bool) -> None:
    """Identify the substances in each RUN, with the rule that decided every verdict.

    Each component gets exactly one verdict: "identified", "inconclusive" or "not
    identified", with every criterion's value, limit and result. The default profile
    (swgdrug-gcms) asks for retention evidence and a blank: without --ladder or
    --standard and --blank, a spectrum match stays "inconclusive", and the output says
    why. Exit 0 when every RUN was processed, 2 when one could not be read (the others
    are still reported) or the options are invalid.
    """
    from gcms.batch import identify_runs

    pairs = []
    for text in standards:
        path, sep, substances = text.partition("=")
        if not sep or not path or not substances.strip():
            error_line(f"--standard {text!r}: expected RUN=SUBSTANCE")
            sys.exit(EXIT_INPUT)
        pairs.append((path, substances))
    criteria = _criteria(criteria_name)
    if show_criteria:
        if as_json:
            emit_json(criteria.to_dict())
        else:
            click.echo(_criteria_text(criteria))
        sys.exit(EXIT_OK)
    library = library_for(library_path, *runs, *(p for p, _ in pairs),
                          *(p for p in (ladder, blank) if p))
    result = identify_runs(list(runs), library=library, criteria=criteria,
                           ladder=ladder, blank=blank, standards=pairs, workers=workers)
    records = result.records
    if as_json:
        emit_json(records)
    else:
        library = result.document["library"]
        click.echo(f"criteria {criteria.name}; library {library['title'] or library['path']} "
                   f"(sha256 {library['content_sha256'][:12]})")
        for record in records:
            if record["type"] == "sample":
                click.echo(_record_text(record, all_components=all_components))
            else:
                click.echo(_evidence_line(record))
    for failed in result.failed:
        error_line(failed["problem"])
    sys.exit(EXIT_INPUT if result.failed else EXIT_OK)


def _extensions() -> list[Any]:
    modules = []
    for name in BATCH_EXTENSIONS:
        try:
            if importlib.util.find_spec(name) is None:
                continue
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "BATCH_OPTIONS") or hasattr(module, "batch_steps"):
            modules.append(module)
    return modules


@click.command()
@click.argument("sequence_path", metavar="SEQUENCE.csv", type=click.Path())
@click.option("--library", "library_path", type=click.Path(), help=_LIBRARY_HELP)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for results.json, summary.csv and runs/: new or empty, unless "
                   "--resume or --replace.")
@click.option("--resume", is_flag=True,
              help="Continue the batch of this same sequence already in OUT (its finished "
                   "runs are reused).")
@click.option("--replace", is_flag=True,
              help="Move an existing OUT aside (to OUT.replaced-<UTC time>; nothing is "
                   "deleted) and start afresh.")
@click.option("--criteria", "criteria_name", help=_CRITERIA_HELP)
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes for pass 1 (with --cluster: of the local Dask cluster).  "
                   "[default: one per CPU core]")
@click.option("--scheduler", metavar="ADDRESS",
              help="Pass 1 on the Dask cluster of this scheduler (tcp://host:8786); its "
                   "workers must see the same paths.")
@click.option("--cluster", is_flag=True,
              help="Pass 1 on a local Dask cluster of --workers processes.")
@click.option("--no-resume", is_flag=True,
              help="Process every run again instead of reusing finished ones.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of the table.")
@guarded
def batch(sequence_path: str, library_path: str | None, out_dir: str, resume: bool,
          replace: bool, criteria_name: str | None, workers: int | None,
          scheduler: str | None, cluster: bool, no_resume: bool,
          quiet: bool, as_json: bool, **extension_options: Any) -> None:
    """Process a whole sequence: ladder, blanks, standards and exhibits, to verdicts.

    Every run is read, deconvoluted and searched (in parallel), then judged with the
    sequence's evidence: the alkane ladder's retention indices, each reference
    standard's retention time, spectrum and ion ratios, and the blank before each
    exhibit. Writes OUT/results.json (all runs, all verdicts), OUT/summary.csv,
    OUT/runs/NNN-SAMPLE.json and .csv, and prints a summary. The sequence is checked
    first as `gcms sequence check` does: nothing is processed unless it is valid. OUT must
    be new or empty: --resume continues the batch of the same sequence in OUT (the runs
    already processed are reused from OUT/cache), --replace moves OUT aside first.

    Exit 0 when every run was processed; 1 when a run could not be (damaged or missing
    file: named, skipped, everything else processed and written) or a batch step
    failed; 2 when nothing could be done (unreadable sequence, library or criteria).

    SEQUENCE may be a folder: every sequence*.csv below it is batched into
    OUT/<its path>, one after another (exit 1 when one failed: the others are done;
    2 when none could be).
    --scheduler or --cluster run pass 1 on Dask: the results are those of a local batch.
    """
    from gcms.batch import run_batch
    from gcms.batch.folder import resume_hint
    from gcms.errors import GcmsError
    from gcms.sequence import read_sequence

    if resume and replace:
        error_line("--resume and --replace exclude each other")
        sys.exit(EXIT_INPUT)
    out_mode = "resume" if resume else "replace" if replace else "new"
    if scheduler is not None and cluster:
        error_line("--scheduler and --cluster exclude each other")
        sys.exit(EXIT_INPUT)
    steps = []
    try:
        for module in _extensions():
            if hasattr(module, "batch_steps"):
                steps.extend(module.batch_steps(dict(extension_options)))
    except click.UsageError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if Path(sequence_path).is_dir():
        _archive_batch(sequence_path, library_path=library_for(library_path), out_dir=out_dir,
                       criteria_name=criteria_name, workers=workers, scheduler=scheduler,
                       cluster=cluster, steps=steps, resume=not no_resume,
                       out_mode=out_mode, quiet=quiet, as_json=as_json)
    library = library_for(library_path, sequence_path)
    sequence = read_sequence(sequence_path)
    criteria = _criteria(criteria_name)
    bar, advance = (None, None) if quiet or as_json else _progress_bar(len(sequence),
                                                                      "pass 1")
    try:
        with _executor(scheduler, workers, cluster) as executor:
            if bar is not None:
                with bar:
                    result = run_batch(sequence, library=library, out_dir=out_dir,
                                       criteria=criteria, workers=workers,
                                       progress=advance, steps=steps,
                                       resume=not no_resume, out_mode=out_mode,
                                       executor=executor)
            else:
                result = run_batch(sequence, library=library, out_dir=out_dir,
                                   criteria=criteria, workers=workers, steps=steps,
                                   resume=not no_resume, out_mode=out_mode,
                                   executor=executor)
    except (GcmsError, OSError, KeyboardInterrupt) as error:
        if isinstance(error, KeyboardInterrupt):
            error_line("interrupted")
        else:
            error_line(str(error) if isinstance(error, GcmsError)
                       else f"{out_dir}: {error.strerror or error}")
        hint = resume_hint(out_dir, sequence)
        if hint:
            error_line(hint)
        sys.exit(130 if isinstance(error, KeyboardInterrupt) else EXIT_INPUT)
    if as_json:
        emit_json(result.document)
    else:
        click.echo(result.summary())
        click.echo(f"{len(sequence)} runs: {result.processed} processed, {result.cached} "
                   f"reused from the cache, {len(result.failed)} failed "
                   f"({result.seconds:.1f} s)")
    for failed in result.failed:
        error_line(failed["problem"])
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)


def _executor(scheduler: str | None, workers: int | None, cluster: bool):
    """Dask's executor for pass 1 (--scheduler, --cluster), else none (the process pool)."""
    if scheduler is None and not cluster:
        return contextlib.nullcontext()
    from gcms.distributed import batch_executor

    return batch_executor(scheduler=scheduler, workers=workers)


def _archive_batch(source: str, *, library_path: str, out_dir: str,
                   criteria_name: str | None, workers: int | None, scheduler: str | None,
                   cluster: bool, steps: list[Any], resume: bool, out_mode: str,
                   quiet: bool, as_json: bool) -> None:
    """`gcms batch FOLDER`: every sequence below it (gcms.distributed.archive_batch)."""
    from gcms.distributed import archive_batch
    from gcms.errors import GcmsError

    def done(label: str, event: Any) -> None:
        if not quiet and not as_json and event.done == event.total:
            click.echo(f"{label}: pass 1 done ({event.total} runs)", err=True)

    try:
        result = archive_batch(
            [source], library=library_path, out_dir=out_dir,
            criteria=_criteria(criteria_name), workers=workers, scheduler=scheduler,
            engine="dask" if scheduler is not None or cluster else "local", steps=steps,
            resume=resume, out_mode=out_mode, progress=done)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if as_json:
        emit_json(result.sequences)
    else:
        for entry in result.sequences:
            counts = (f" ({entry['n_runs']} runs, {entry['cached']} reused, "
                      f"{entry['failed_runs']} failed)" if "failed_runs" in entry else "")
            click.echo(f"{entry['label']}: {entry['status']}{counts} -> {entry['out_dir']}")
        rate = 60.0 * result.runs / result.seconds if result.seconds > 0 else 0.0
        click.echo(f"{len(result.sequences)} sequences, {result.runs} runs, "
                   f"{len(result.failed)} with a failure ({result.seconds:.1f} s, "
                   f"{rate:.0f} runs/min)")
    for entry in result.failed:
        error_line(f"{entry['label']}: {entry['problem']}")
    if not result.results:  # not one sequence could be batched
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_OK if result.exit_code == 0 else EXIT_FINDINGS)


for _module in _extensions():
    batch.params.extend(getattr(_module, "BATCH_OPTIONS", ()))
