"""``gcms rescreen``: archived results searched again against a new or updated library."""

from __future__ import annotations

import sys
import time

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, emit_json, error_line


@click.command()
@click.argument("sources", nargs=-1, type=click.Path(), metavar="[RESULTS.json|FOLDER]...")
@click.option("--library", "library_path", required=True, type=click.Path(),
              help="The new or updated compiled library (HDF5).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for rescreen.json, findings.csv and documents/ (created; "
                   "reused to resume).")
@click.option("--targets", "target_lists", multiple=True, metavar="LIST",
              help="Target list: a shipped one (un-conventions, adulterants) or a TOML "
                   "file (repeatable); only its substances are listed, with their "
                   "controlled status.")
@click.option("--target", "target_names", multiple=True, metavar="NAME",
              help="A target substance by name, CAS number or InChIKey (repeatable).")
@click.option("--criteria", "criteria_name", default="swgdrug-gcms", show_default=True,
              help="Criteria profile whose match-factor and RI limits decide a finding.")
@click.option("--store", "store_location", help="Case store (folder or database URL): its "
              "cases are screened too, and each gets a re-screening result.")
@click.option("--case", "case_ids", multiple=True, metavar="CASE",
              help="Only these cases of --store (repeatable).  [default: all]")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Worker processes of the local Dask cluster.  [default: one per core]")
@click.option("--scheduler", metavar="ADDRESS",
              help="Address of a Dask scheduler (tcp://host:8786) instead of a local "
                   "cluster; its workers must see the same paths.")
@click.option("--in-process", "in_process", is_flag=True,
              help="No Dask: one document after another in this process (the reference).")
@click.option("--from-raw", is_flag=True,
              help="Recompute the components from the raw runs the results name (each "
                   "checked against its recorded SHA-256) instead of reading the stored "
                   "ones.")
@click.option("--no-resume", is_flag=True, help="Screen every document again.")
@click.option("--quiet", is_flag=True, help="No progress counter.")
@click.option("--json", "as_json", is_flag=True, help="Print rescreen.json.")
def rescreen(sources: tuple[str, ...], library_path: str, out_dir: str,
             target_lists: tuple[str, ...], target_names: tuple[str, ...], criteria_name: str,
             store_location: str | None, case_ids: tuple[str, ...], workers: int | None,
             scheduler: str | None, in_process: bool, from_raw: bool, no_resume: bool,
             quiet: bool, as_json: bool) -> None:
    """Search the stored components of archived runs against a new or updated library.

    Reads the components (with their spectra) from the results.json files of
    'gcms batch' (files, or folders searched for them) and from the cases of a case
    store, searches them on Dask, and lists per case the substances newly found:
    leads for a reviewer, to be confirmed against a reference standard. Issued results
    are never changed. Writes OUT/rescreen.json, OUT/findings.csv and one file per
    document in OUT/documents (a re-run skips the documents already done).

    Exit 0 when every document was screened (with or without new findings), 1 when a
    document could not be (named; the others are screened and written), 2 when nothing
    could be done.
    """
    from gcms.distributed import RescreenSettings
    from gcms.distributed import rescreen as run_rescreen
    from gcms.errors import GcmsError

    if not sources and store_location is None:
        error_line("name results files or folders, or a case store (--store)")
        sys.exit(EXIT_INPUT)
    if scheduler is not None and (workers is not None or in_process):
        error_line("--scheduler uses the cluster's workers: drop --workers/--in-process")
        sys.exit(EXIT_INPUT)
    store = None
    try:
        settings = RescreenSettings(criteria=criteria_name, target_lists=target_lists,
                                    targets=target_names, from_raw=from_raw)
        if store_location is not None:
            from gcms.custody import CaseStore

            store = CaseStore(store_location, create=False)
        counter = None if quiet or as_json else _counter()
        started = time.perf_counter()
        try:
            result = run_rescreen(
                list(sources), library_path, out_dir=out_dir, settings=settings,
                store=store, cases=case_ids, workers=workers, scheduler=scheduler,
                engine="in-process" if in_process else "dask", resume=not no_resume,
                progress=counter)
        finally:
            if store is not None:
                store.close()
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    except OSError as error:
        error_line(f"{out_dir}: {error.strerror or error}")
        sys.exit(EXIT_INPUT)
    seconds = time.perf_counter() - started
    summary = result.summary
    if as_json:
        emit_json(summary)
    else:
        click.echo(_text(summary))
        runs = summary["runs_screened"]
        rate = f", {60.0 * runs / seconds:.0f} runs/min" if seconds > 0 and runs else ""
        click.echo(f"{len(summary['documents'])} documents ({result.skipped} done before), "
                   f"{runs} runs screened, {summary['n_findings']} new findings, "
                   f"{len(result.failed)} failed ({seconds:.1f} s{rate})")
        click.echo(f"results: {result.out_dir / 'rescreen.json'} "
                   f"(table: {result.out_dir / 'findings.csv'})")
    for failed in result.failed:
        error_line(f"{failed['problem']}")
    sys.exit(EXIT_FINDINGS if result.failed else EXIT_OK)


def _counter():
    """Documents done on stderr: one line rewritten on a terminal, else every 5 %."""
    terminal = sys.stderr.isatty()

    def advance(done: int, total: int, label: str) -> None:
        if terminal:
            click.echo(f"\rrescreen {done}/{total} {label[:50]:<50}", err=True,
                       nl=done == total)
        elif done == total or done % max(1, total // 20) == 0:
            click.echo(f"rescreen {done}/{total} documents", err=True)
    return advance


def _controlled(finding) -> str:
    return f"; controlled: {finding['controlled']}" if finding.get("controlled") else ""


def _text(summary) -> str:
    library = summary["library"]
    lines = [f"library {library['title'] or library['path']} "
             f"(sha256 {library['sha256'][:16]}, {library['n_entries']} entries); "
             f"screened {summary['screened_utc']} by {summary['screened_by']}"]
    if not summary["cases"]:
        lines.append("no new findings")
    for case in summary["cases"]:
        lines.append(f"case {case['case_id'] or '(none)'}:")
        for exhibit in case["exhibits"]:
            for f in exhibit["findings"]:
                ri = "" if f["retention_index"] is None else f" RI {f['retention_index']:g}"
                lines.append(f"  exhibit {exhibit['exhibit_id'] or '-'} sample {f['sample_id']}"
                             f" ({f['run_file']}): {f['substance']} MF {f['match_factor']}"
                             f"/{f['reverse_match_factor']} at {f['rt_min']} min{ri}"
                             f" [{f['retention']}]{_controlled(f)}")
    lines.append("new findings are leads for review: confirm each against a reference "
                 "standard before reporting")
    return "\n".join(lines)
