"""``gcms qa``: tune, ladder and check-standard QA, history with Levey-Jennings charts.

Also extends ``gcms batch`` (see :mod:`gcms_cli.identify`): ``--instrument PROFILE``
adds the QA gate of :mod:`gcms.qa.gate` (the sequence's ladder and check standards
judged, the tune looked up in the QA history, a ``qa`` section in results.json and,
under ``--qa-policy block``, exhibits not reportable when the QA is not current and
passing).
"""

from __future__ import annotations

import contextlib
import math
import sys

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

_HISTORY_HELP = ("Folder of the QA history (qa-history.sqlite); default $GCMS_DATA_DIR or "
                 "the platform data folder.")


def _fmt(value, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if unit == "u":
        text = f"{value:.3f}"
    elif unit == "V" or abs(value) >= 1000:
        text = f"{value:.0f}"
    else:
        text = f"{value:.4g}"
    return f"{text} {unit}".strip()


def _outcome(criterion) -> str:
    if criterion.passed is True:
        return "pass"
    if criterion.passed is False:
        return "FAIL"
    return "FAIL (not judged)" if criterion.required else "-"


def _what(result) -> str:
    if result.kind == "tune":
        return f"{result.criteria_set} tune"
    if result.kind == "check":
        return f"check standard ({result.criteria_set})"
    return result.criteria_set


def _result_text(result, recorded: str | None) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    lines = [f"{verdict}  {_what(result)} of {result.instrument_id}, "
             f"{result.performed_at.isoformat(timespec='seconds')}"]
    source = result.source
    if source.get("path"):
        digest = f" (sha256 {source['sha256'][:16]}...)" if source.get("sha256") else ""
        lines.append(f"  source   {source['path']}{digest}")
    if result.profile.get("path"):
        lines.append(f"  profile  {result.profile['path']}")
    width = max(len(c.name) for c in result.criteria)
    lines.append("")
    wide = max(len(c.limit_text) for c in result.criteria)
    lines.append(f"  {'criterion':<{width}}  {'value':>12}  {'limit':<{wide}}  result")
    for c in result.criteria:
        limit = c.limit_text
        lines.append(f"  {c.name:<{width}}  {_fmt(c.value, c.unit):>12}  {limit:<{wide}}  "
                     f"{_outcome(c)}" + (f"  ({c.note})" if c.note and c.passed is not True
                                         else ""))
    if result.notes:
        lines.append("")
        lines.extend(f"  note: {n}" for n in result.notes)
    if result.failures:
        lines.append("")
        lines.append("  failed: " + ", ".join(c.key for c in result.failures))
    if recorded:
        lines.append(f"  recorded: {recorded}")
    return "\n".join(lines)


@click.group()
def qa() -> None:
    """Instrument QA: tune, ladder and check-standard checks, history and control charts."""


@qa.command()
@click.argument("file", type=click.Path())
@click.option("--instrument", "instrument", required=True,
              help="Instrument profile: a TOML path, a profile name or an instrument ID.")
@click.option("--criteria", help="Tune criteria set to apply (default: the profile's; "
                                 "detected from the spectrum when it names several).")
@click.option("--emv", type=float, help="Electron-multiplier voltage of this tune (V).")
@click.option("--history", "history_dir", type=click.Path(file_okay=False),
              help=_HISTORY_HELP)
@click.option("--no-record", is_flag=True, help="Do not store the result in the QA history.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
def tune(file: str, instrument: str, criteria: str | None, emv: float | None,
         history_dir: str | None, no_record: bool, as_json: bool) -> None:
    """Evaluate the tune spectrum in FILE (a run, a spectrum file or spectrum JSON).

    PFTBA autotune (mass assignment, abundances, isotope ratios, peak widths on profile
    data, air and water), EPA DFTPP or BFB ion abundances. Exit 0 pass, 1 fail, 2 input
    error. The result is stored in the QA history unless --no-record.
    """
    from gcms.errors import GcmsError
    from gcms.qa import evaluate_tune, load_profile, open_history

    recorded = None
    try:
        profile = load_profile(instrument)
        needed = not no_record or emv is not None
        with open_history(history_dir) if needed else contextlib.nullcontext() as store:
            previous = None
            if emv is not None and store is not None:
                series = store.series(profile.id, "electron_multiplier_v", kind="tune")
                finite = [v for v in series.values.tolist() if math.isfinite(v)]
                previous = finite[-1] if finite else None
            result = evaluate_tune(file, profile=profile, criteria=criteria,
                                   electron_multiplier_v=emv,
                                   previous_electron_multiplier_v=previous)
            if store is not None and not no_record:
                recorded = f"{store.path} (result {store.record(result)})"
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if as_json:
        emit_json({**result.to_dict(), "recorded": recorded})
    else:
        click.echo(_result_text(result, recorded))
    sys.exit(EXIT_OK if result.passed else EXIT_FINDINGS)


def _finish(result, recorded: str | None, as_json: bool) -> None:
    if as_json:
        emit_json({**result.to_dict(), "recorded": recorded})
    else:
        click.echo(_result_text(result, recorded))
    sys.exit(EXIT_OK if result.passed else EXIT_FINDINGS)


def _record(result, history_dir: str | None, no_record: bool) -> str | None:
    if no_record:
        return None
    from gcms.qa import open_history

    with open_history(history_dir) as store:
        result_id, new = store.record_once(result)
        return f"{store.path} (result {result_id}{'' if new else ', recorded before'})"


@qa.command()
@click.argument("run", type=click.Path())
@click.option("--instrument", "instrument", required=True,
              help="Instrument profile: a TOML path, a profile name or an instrument ID.")
@click.option("--history", "history_dir", type=click.Path(file_okay=False),
              help=_HISTORY_HELP)
@click.option("--no-record", is_flag=True, help="Do not store the result in the QA history.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
def ladder(run: str, instrument: str, history_dir: str | None, no_record: bool,
           as_json: bool) -> None:
    """Judge the alkane ladder in RUN against the instrument profile's [ladder].

    Members found and missing, each member's retention time against the profile (and
    its shift from the latest passing ladders in the QA history), the least resolved
    consecutive pair, the worst tailing factor, the least plate count and the weakest
    S/N. Exit 0 pass, 1 fail, 2 input error. Stored in the QA history unless
    --no-record (the same run and profile are stored once).
    """
    from pathlib import Path

    from gcms.errors import GcmsError
    from gcms.qa import default_data_dir, evaluate_ladder, load_profile, open_history
    from gcms.qa.history import HISTORY_FILE

    try:
        profile = load_profile(instrument)
        folder = Path(history_dir) if history_dir else default_data_dir()
        if no_record and not (folder / HISTORY_FILE).is_file():
            result = evaluate_ladder(run, profile=profile)   # --no-record creates nothing
        else:
            with open_history(folder) as store:
                result = evaluate_ladder(run, profile=profile, history=store)
        recorded = _record(result, history_dir, no_record)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    _finish(result, recorded, as_json)


@qa.command()
@click.argument("run", type=click.Path())
@click.option("--instrument", "instrument", required=True,
              help="Instrument profile: a TOML path, a profile name or an instrument ID.")
@click.option("--library", "library_path", type=click.Path(),
              help="Compiled library holding the check compounds; required, except for "
                   "the bundled demo data (searched in the demo library).")
@click.option("--ladder", "ladder_run", type=click.Path(),
              help="Alkane ladder run of the same sequence: retention indices for the RI "
                   "criteria.")
@click.option("--history", "history_dir", type=click.Path(file_okay=False),
              help=_HISTORY_HELP)
@click.option("--no-record", is_flag=True, help="Do not store the result in the QA history.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
def check(run: str, instrument: str, library_path: str | None, ladder_run: str | None,
          history_dir: str | None, no_record: bool, as_json: bool) -> None:
    """Judge the check-standard run RUN against the instrument profile's [check_standard].

    Each compound found (deconvolution and library search) at its expected RT (and RI,
    with --ladder) within the window, its match factor, S/N, tailing factor and plate
    count; the resolution of each critical pair. Exit 0 pass, 1 fail, 2 input error
    (unreadable run, a profile without a check standard, a library without one of its
    compounds). Stored in the QA history unless --no-record.
    """
    from gcms.errors import GcmsError
    from gcms.qa import evaluate_check_standard, load_profile
    from gcms.qa.ladder import ladder_calibration

    try:
        profile = load_profile(instrument)
        calibration = ladder_calibration(ladder_run, profile) if ladder_run else None
        library = library_for(library_path, run, *([ladder_run] if ladder_run else []))
        result = evaluate_check_standard(run, profile=profile, library=library,
                                         calibration=calibration)
        recorded = _record(result, history_dir, no_record)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    _finish(result, recorded, as_json)


def _history_text(instrument_id, stored, charts, skipped) -> str:
    lines = [f"QA history of {instrument_id}: {len(stored)} result(s)"]
    for item in stored:
        r = item.result
        failed = ", ".join(c.key for c in r.failures)
        lines.append(f"  {r.performed_at.isoformat(timespec='seconds')}  {r.kind:<6} "
                     f"{r.criteria_set:<24} {r.verdict.upper():<5}"
                     + (f"  failed: {failed}" if failed else ""))
    for metric, chart in charts.items():
        flagged = [(i, chart.rules_at(i)) for i in range(len(chart.values)) if chart.rules_at(i)]
        last = chart.values[-1]
        lines.append("")
        lines.append(f"  {metric}: last {_fmt(float(last), chart.unit)}, mean "
                     f"{_fmt(chart.mean)}, SD {_fmt(chart.sd)} ({chart.limits_from})"
                     + ("  OUT OF CONTROL" if chart.rejected else ""))
        for i, rules in flagged:
            lines.append(f"    result {i + 1}: {' '.join(rules)}")
    for metric, why in skipped.items():
        lines.append(f"  {metric}: not charted ({why})")
    return "\n".join(lines)


@qa.command()
@click.option("--instrument", "instrument", required=True,
              help="Instrument ID, or a profile (its ID, control limits and rules are used).")
@click.option("--history", "history_dir", type=click.Path(file_okay=False),
              help=_HISTORY_HELP)
@click.option("--kind", type=click.Choice(["tune", "ladder", "check"]), default="tune",
              show_default=True, help="Which QA results to chart.")
@click.option("--metric", "metrics", multiple=True,
              help="Criterion key to chart (repeatable; default the profile's charted list, "
                   "else every metric that varies).")
@click.option("--baseline", type=int, help="Results used for mean and SD (default the "
                                           "profile's baseline_points, else 20).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write the Levey-Jennings charts (PNG, PDF or SVG by extension).")
@click.option("--json", "as_json", is_flag=True, help="Results and charts as JSON.")
def history(instrument: str, history_dir: str | None, kind: str, metrics: tuple[str, ...],
            baseline: int | None, plot_path: str | None, as_json: bool) -> None:
    """Stored QA results of an instrument, Westgard flags and Levey-Jennings charts.

    Exit 0 when the latest result passed and no charted metric's latest point breaks a
    Westgard rejection rule, 1 otherwise, 2 on an input error.
    """
    from gcms.errors import GcmsError
    from gcms.qa import control_chart, open_history
    from gcms.qa.profile import find_profile
    from gcms.qa.westgard import WESTGARD_RULES

    try:
        profile = find_profile(instrument)
        instrument_id = profile.id if profile else instrument
        rules = profile.qa.westgard_rules if profile else WESTGARD_RULES
        baseline_points = baseline or (profile.qa.baseline_points if profile else 20)
        fixed = dict(profile.qa.control_limits) if profile else {}
        with open_history(history_dir) as store:
            stored = store.results(instrument_id, kind=kind)
            if not stored:
                known = ", ".join(store.instruments()) or "none"
                error_line(f"{store.path}: no {kind} results for {instrument_id!r} "
                           f"(instruments with results: {known})")
                sys.exit(EXIT_INPUT)
            wanted = list(metrics) or (list(profile.qa.charted) if profile and
                                       profile.qa.charted else store.metrics(instrument_id,
                                                                             kind=kind))
            charts, times, skipped = {}, {}, {}
            for metric in wanted:
                series = store.series(instrument_id, metric, kind=kind)
                limits = fixed.get(metric)
                try:
                    chart = control_chart(series.values, metric=metric, unit=series.unit,
                                          mean=limits.mean if limits else None,
                                          sd=limits.sd if limits else None,
                                          baseline_points=baseline_points, rules=rules)
                except ValueError as error:
                    skipped[metric] = str(error).split(": ", 1)[-1]
                    continue
                charts[metric], times[metric] = chart, series.performed_at
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if plot_path:
        if not charts:
            error_line(f"{instrument_id}: nothing to chart ({'; '.join(skipped.values())})")
            sys.exit(EXIT_INPUT)
        from gcms.qa.charts import levey_jennings

        figure = levey_jennings(charts, times=times,
                                title=f"{instrument_id}: {kind} QA (Levey-Jennings)")
        figure.savefig(plot_path, dpi=150)
    out_of_control = [m for m, c in charts.items() if c.rejected]
    latest_failed = not stored[-1].result.passed
    if as_json:
        emit_json({"instrument_id": instrument_id, "kind": kind,
                   "results": [s.to_dict() for s in stored],
                   "charts": {m: c.to_dict() for m, c in charts.items()},
                   "not_charted": skipped, "out_of_control": out_of_control,
                   "latest_passed": not latest_failed, "plot": plot_path})
    else:
        click.echo(_history_text(instrument_id, stored, charts, skipped))
        if plot_path:
            click.echo(f"  chart: {plot_path}")
    sys.exit(EXIT_FINDINGS if out_of_control or latest_failed else EXIT_OK)


@qa.command("profile")
@click.argument("profile_ref")
@click.option("--json", "as_json", is_flag=True, help="The profile summary as JSON.")
@guarded
def profile_command(profile_ref: str, as_json: bool) -> None:
    """Validate an instrument profile (path or name) and show what it holds.

    Exit 0 valid, 2 invalid (the key and the problem on stderr).
    """
    from gcms.qa import load_profile

    profile = load_profile(profile_ref)
    summary = profile.summary()
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{summary['path']}: valid")
        for key, value in summary.items():
            if key != "path" and value not in (None, "", [], {}):
                click.echo(f"  {key:<16} {value}")
    sys.exit(EXIT_OK)


@qa.command("criteria")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def criteria_command(name: str | None, as_json: bool) -> None:
    """List the built-in tune criteria sets, or the rules (keys and limits) of NAME."""
    from gcms.qa import TUNE_CRITERIA, tune_criteria

    if name is None:
        if as_json:
            emit_json([s.to_dict() for s in TUNE_CRITERIA.values()])
        else:
            for s in TUNE_CRITERIA.values():
                click.echo(f"{s.name:<24} {s.title}")
        sys.exit(EXIT_OK)
    try:
        chosen = tune_criteria(name)
    except KeyError as error:
        error_line(str(error.args[0]))
        sys.exit(EXIT_INPUT)
    if as_json:
        emit_json(chosen.to_dict())
    else:
        click.echo(f"{chosen.name}: {chosen.title}\n  {chosen.reference}")
        for rule in chosen.rules:
            optional = "" if rule.required else "  (not required)"
            click.echo(f"  {rule.key:<22} {rule.name:<40} {rule.limit_text()}{optional}")
    sys.exit(EXIT_OK)


# -- gcms batch --instrument PROFILE ---------------------------------------------------------

#: Options added to ``gcms batch`` (see ``gcms_cli.identify``).
BATCH_OPTIONS = [
    click.Option(
        ["--instrument", "qa_instrument"], default=None, metavar="PROFILE",
        help="Instrument profile (path, name or ID): judge the sequence's ladder and check "
             "standards against it, look up the latest tune in the QA history, and record "
             "the QA status in results.json ('qa'); see --qa-policy."),
    click.Option(
        ["--qa-history", "qa_history"], default=None, type=click.Path(file_okay=False),
        help="Folder of the QA history (needs --instrument).  [default: $GCMS_DATA_DIR or "
             "the platform data folder]"),
    click.Option(
        ["--qa-policy", "qa_policy"], default=None, type=click.Choice(["record", "block"]),
        help="When the instrument QA is not current and passing: 'block' marks every "
             "exhibit not reportable and exits 1, 'record' only records it (needs "
             "--instrument).  [default: the profile's qa.block_reporting]"),
]


def batch_steps(options: dict) -> list:
    """The QA gate's steps when ``--instrument`` is given; a bad profile is a usage error."""
    instrument = options.get("qa_instrument")
    if not instrument:
        given = [flag for flag, key in (("--qa-history", "qa_history"),
                                        ("--qa-policy", "qa_policy")) if options.get(key)]
        if given:
            raise click.UsageError(f"{' and '.join(given)} need(s) --instrument")
        return []
    from gcms.errors import GcmsError
    from gcms.qa import load_profile, qa_batch_steps

    try:
        profile = load_profile(instrument)
    except GcmsError as error:
        raise click.UsageError(f"--instrument: {error}") from None
    return qa_batch_steps(profile, history_dir=options.get("qa_history"),
                          policy=options.get("qa_policy"))
