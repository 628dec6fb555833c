"""``gcms profile``: impurity profiles, linkage thresholds and the seizure database.

Thin: every command parses, calls :mod:`gcms.profiling`, prints. Every link printed quotes
its score, the threshold and the calibration's error rates, and the limitation sentence.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from gcms_cli._common import CommandError, emit_json, guarded
from gcms_cli.custody import _key_option, _unlock

METHOD_HELP = ("Profiling method: a TOML file, or a shipped one by name "
               "(see 'gcms profile methods').")


def _method(name: str):
    from gcms.profiling.method import find_profiling_method

    method = find_profiling_method(name)
    if method.caution:
        click.echo(f"caution ({method.name}): {method.caution}", err=True)
    return method


def _store_options(function):
    function = click.option("--actor", envvar="GCMS_ACTOR", default=None,
                            help="Who acts (default: $GCMS_ACTOR or the login name).")(function)
    return click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
                        metavar="DIR|URL",
                        help="Case store folder or database URL (default: $GCMS_STORE)."
                        )(function)


def _ri_calibration(path: str | None):
    if path is None:
        return None
    from gcms.errors import GcmsError
    from gcms.retention.calibration import RetentionCalibration

    if path.lower().endswith(".cal"):
        return RetentionCalibration.read_amdis_cal(path)
    try:
        return RetentionCalibration.from_dict(json.loads(Path(path).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GcmsError(f"{path}: not an RI calibration (AMDIS .cal or gcms JSON): "
                        f"{error}") from None


def _profile_lines(profile) -> list[str]:
    lines = [f"{profile.sample_name or '?'}  (method {profile.method}, "
             f"{profile.settings.normalisation}-normalised, {profile.settings.transform})"]
    if not profile.usable:
        lines.append("  no profile target found: this profile cannot be compared")
    for name, area, value in zip(profile.targets, profile.areas, profile.values, strict=True):
        shown = "absent" if area != area else f"{area:12.4g}"
        compared = "-" if value != value else f"{value:.4f}"
        lines.append(f"  {name:<40} {shown:>12}  {compared}")
    others = [m for n, m in profile.measurements.items() if n not in profile.targets]
    found = [m.name for m in others if m.found]
    if found:
        lines.append(f"  also found (not compared): {', '.join(found)}")
    for m in profile.measurements.values():
        if m.rejected:
            lines.append(f"  {m.name}: peak rejected ({m.rejected})")
    return lines


@click.group()
def profile() -> None:
    """Drug impurity profiling and seizure linkage."""


@profile.command("methods")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@guarded
def methods(as_json: bool) -> None:
    """List the shipped profiling methods."""
    from gcms.profiling.method import load_profiling_method, shipped_methods

    loaded = [load_profiling_method(p) for p in shipped_methods().values()]
    if as_json:
        emit_json([m.to_dict() for m in loaded])
        return
    for name, m in zip(shipped_methods(), loaded, strict=True):
        click.echo(f"{name:<14} {m.drug:<12} {len(m.profile_targets)} profile targets of "
                   f"{len(m.targets)}; {m.profile.transform}, {m.profile.metric}  "
                   f"({m.description})")


@profile.command("measure")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("--ri-calibration", type=click.Path(dir_okay=False),
              help="RI calibration of the runs (AMDIS .cal or gcms JSON), for RI targets.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the profiles (JSON list) here.")
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
@guarded
def measure(runs: tuple[str, ...], method_name: str, ri_calibration: str | None,
            out: str | None, as_json: bool) -> None:
    """Measure the impurity profile of each RUN; with several, the RSD per target."""
    from gcms.io import read
    from gcms.profiling.measure import measure_profile, reproducibility

    method = _method(method_name)
    calibration = _ri_calibration(ri_calibration)
    profiles = [measure_profile(read(path), method, ri_calibration=calibration)
                for path in runs]
    data = [p.to_dict() for p in profiles]
    if out:
        Path(out).write_text(json.dumps(data, indent=1), encoding="utf-8")
    table = reproducibility(profiles) if len(profiles) > 1 else None
    if as_json:
        emit_json({"profiles": data, "reproducibility": table})
        return
    for p in profiles:
        click.echo("\n".join(_profile_lines(p)))
    if table:
        click.echo(f"re-injections ({len(profiles)}): RSD % of area / of compared value")
        for name, row in table.items():
            a, v = row["area_rsd_percent"], row["value_rsd_percent"]
            click.echo(f"  {name:<40} found {row['found']}/{len(profiles)}  "
                       f"{'-' if a is None else f'{a:.2f}'} / "
                       f"{'-' if v is None else f'{v:.2f}'}")


@profile.command("simulate")
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("--batches", type=click.IntRange(2), default=40, show_default=True)
@click.option("--per-batch", type=click.IntRange(2), default=4, show_default=True)
@click.option("--labile", multiple=True, help="A target that degrades (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The SIMULATED set (JSON).")
@guarded
def simulate(method_name: str, batches: int, per_batch: int, labile: tuple[str, ...],
             seed: int, out: str) -> None:
    """Make a SIMULATED set of exhibits from known production batches."""
    from gcms.profiling.simulate import BatchModel, simulate_seizures

    method = _method(method_name)
    unknown = [t for t in labile if t not in {x.name for x in method.profile_targets}]
    if unknown:
        raise CommandError(f"--labile: not a profile target of {method.name}: "
                           f"{', '.join(unknown)}")
    seizures = simulate_seizures(method, BatchModel(n_batches=batches, per_batch=per_batch,
                                                    labile=labile, seed=seed))
    Path(out).write_text(json.dumps(seizures.to_dict(method), indent=1), encoding="utf-8")
    click.echo(f"{out}: {seizures.batch.size} SIMULATED exhibits from {batches} batches")


@profile.command("calibrate")
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("--known", type=click.Path(dir_okay=False),
              help="Exhibits of known origin (JSON: 'gcms profile simulate' or the lab's own).")
@click.option("--simulated", is_flag=True,
              help="No known set of the lab's: calibrate on a SIMULATED one (said so).")
@click.option("--rule", type=click.Choice(["min-total-error", "max-false-positive"]),
              default="min-total-error", show_default=True)
@click.option("--max-false-positive-rate", type=click.FloatRange(0, 1), default=0.01,
              show_default=True, help="With --rule max-false-positive.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for calibration.json and calibration.png.")
@_store_options
@_key_option(required=False, help="Your private key file: with --store, the threshold's "
             "custody entry is signed with it (required there).")
@click.option("--json", "as_json", is_flag=True, help="Print the calibration's quote as JSON.")
@guarded
def calibrate(method_name: str, known: str | None, simulated: bool, rule: str,
              max_false_positive_rate: float, out: str, store_location: str | None,
              actor: str | None, key_file: str | None, passphrase_env: str,
              as_json: bool) -> None:
    """Set the linkage threshold from known-linked and known-unlinked pairs.

    Writes both score distributions and the ROC curve (PNG, JSON); with --store the
    threshold becomes the one new profiles of the method are linked by, recorded in the
    store's custody chain and signed with your --key.
    """
    from gcms.profiling.calibrate import calibrate_groups, plot_calibration, read_known_set
    from gcms.profiling.measure import normalise
    from gcms.profiling.simulate import BatchModel, simulate_seizures

    method = _method(method_name)
    if (known is None) == (not simulated):
        raise CommandError("give --known FILE (exhibits of known origin) or --simulated")
    if store_location is not None and key_file is None:
        raise CommandError("--store records the threshold in the custody chain, signed: "
                           "give --key FILE (your registered private key)")
    if known:
        data = read_known_set(known, [t.name for t in method.profile_targets])
        values, groups, is_sim, source = (normalise(data.areas, method.profile), data.groups,
                                          data.simulated, data.source)
    else:
        seizures = simulate_seizures(method, BatchModel(n_batches=100))
        values, groups, is_sim, source = (seizures.values(method), seizures.batch, True,
                                          "gcms.profiling.simulate (BatchModel defaults)")
    result = calibrate_groups(values, groups, metric=method.profile.metric,
                              higher_is_closer=method.profile.higher_is_closer, rule=rule,
                              max_false_positive_rate=max_false_positive_rate,
                              simulated=is_sim, method=method.identity(), source=source)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    result.save(folder / "calibration.json")
    plot_calibration(result, folder / "calibration.png")
    if store_location is not None:
        from gcms.profiling.store import ProfileStore

        signer = _unlock(key_file, passphrase_env)
        with ProfileStore(store_location, actor=actor) as store:
            store.set_calibration(method, result, key=signer)
    if as_json:
        emit_json(result.quote())
        return
    click.echo(result.statement())
    click.echo(f"ROC AUC {result.auc:.4f}; {result.linked.size} linked and "
               f"{result.unlinked.size} unlinked pairs; written to {folder}")


def _link_lines(links, limitation: str) -> list[str]:
    lines = [f"  link {lk.sentence()}" for lk in links]
    return [*lines, f"  {limitation}"] if links else lines


@profile.command("add")
@click.argument("run", type=click.Path())
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("--case", "case_id", required=True, help="Case of the seizure.")
@click.option("--exhibit", "exhibit_id", default=None)
@click.option("--date", "seized_on", default=None, help="Date of the seizure (YYYY-MM-DD).")
@click.option("--place", default=None, help="Where it was seized.")
@click.option("--drug", default=None, help="The drug (default: the method's).")
@click.option("--ri-calibration", type=click.Path(dir_okay=False))
@_store_options
@click.option("--json", "as_json", is_flag=True)
@guarded
def add(run: str, method_name: str, case_id: str, exhibit_id: str | None,
        seized_on: str | None, place: str | None, drug: str | None,
        ri_calibration: str | None, store_location: str | None, actor: str | None,
        as_json: bool) -> None:
    """Measure RUN, store its profile and link it to every stored seizure past the threshold."""
    from gcms.io import read
    from gcms.profiling.measure import measure_profile
    from gcms.profiling.store import LIMITATION, ProfileStore, SeizureInfo

    method = _method(method_name)
    measured = measure_profile(read(run), method, ri_calibration=_ri_calibration(ri_calibration))
    seizure = SeizureInfo(case_id, exhibit_id, seized_on, place, drug or method.drug)
    with ProfileStore(store_location, actor=actor) as store:
        if store.calibration(method) is None:
            click.echo("note: no calibration set for this method ('gcms profile calibrate "
                       "--store'): the profile is stored, nothing is linked", err=True)
        profile_id, links = store.add_profile(method, measured, seizure)
        custody = store.profile_record(profile_id)["custody"]
    if as_json:
        emit_json({"profile_id": profile_id, "profile": measured.to_dict(),
                   "links": [lk.to_dict() for lk in links], "custody": custody,
                   "limitation": LIMITATION})
        return
    click.echo(f"{profile_id}: stored ({store_location or 'default store'})")
    click.echo("\n".join(_profile_lines(measured)))
    click.echo(f"custody: recorded in entry #{custody['entry_seq']} of case "
               f"{custody['case_id']}'s chain (profile and links, with their SHA-256)")
    click.echo(f"{len(links)} link(s)")
    click.echo("\n".join(_link_lines(links, LIMITATION)))


@profile.command("search")
@click.argument("profile_id")
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("-k", "k", type=click.IntRange(1), default=10, show_default=True)
@_store_options
@click.option("--json", "as_json", is_flag=True)
@guarded
def search(profile_id: str, method_name: str, k: int, store_location: str | None,
           actor: str | None, as_json: bool) -> None:
    """The stored seizures closest to PROFILE_ID, with scores and the threshold."""
    import numpy as np

    from gcms.profiling.store import LIMITATION, ProfileStore

    method = _method(method_name)
    with ProfileStore(store_location, actor=actor, create=False) as store:
        values = np.array(store.profile_record(profile_id)["values"])
        calibration = store.calibration(method)
        hits = store.search(method, values, k=k, calibration=calibration,
                            exclude=[profile_id])
    statement = calibration.statement() if calibration else "no calibration set: no threshold"
    if as_json:
        emit_json({"profile_id": profile_id, "matches": [h.to_dict() for h in hits],
                   "calibration": calibration.quote() if calibration else None,
                   "limitation": LIMITATION})
        return
    click.echo(statement)
    for h in hits:
        s = h.seizure
        mark = {True: "LINK", False: "    ", None: "  ? "}[h.linked]
        click.echo(f"  {mark} {h.profile_id}  {h.score:.4f}  case {s.case_id or '-'} "
                   f"exhibit {s.exhibit_id or '-'} {s.seized_on or ''} {s.place or ''}")
    click.echo(LIMITATION)


@profile.command("clusters")
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@_store_options
@click.option("--json", "as_json", is_flag=True)
@guarded
def clusters(method_name: str, store_location: str | None, actor: str | None,
             as_json: bool) -> None:
    """Clusters of linked seizures (connected components of the links)."""
    from gcms.profiling.store import LIMITATION, ProfileStore

    method = _method(method_name)
    with ProfileStore(store_location, actor=actor, create=False) as store:
        groups = store.clusters(method)
        info = {pid: store.seizure(pid) for g in groups for pid in g}
    if as_json:
        emit_json({"clusters": [[{"profile_id": p, "case_id": info[p].case_id,
                                  "exhibit_id": info[p].exhibit_id} for p in g]
                                for g in groups], "limitation": LIMITATION})
        return
    for i, g in enumerate(groups, 1):
        cases = sorted({info[p].case_id or "-" for p in g})
        click.echo(f"C{i}: {len(g)} seizures, cases {', '.join(cases)}")
    click.echo(f"{len(groups)} cluster(s). {LIMITATION}")


@profile.command("export")
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@_store_options
@guarded
def export(method_name: str, out: str, store_location: str | None, actor: str | None) -> None:
    """Write nodes.csv, edges.csv and links.graphml for link-analysis tools."""
    from gcms.profiling.store import ProfileStore

    method = _method(method_name)
    with ProfileStore(store_location, actor=actor, create=False) as store:
        paths = store.export(method, out)
    for path in paths.values():
        click.echo(str(path))


@profile.command("report")
@click.argument("profile_ids", nargs=-1, required=True)
@click.option("--method", "method_name", required=True, help=METHOD_HELP)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The PDF.")
@click.option("--language", type=click.Choice(["en", "ar"]), default="en", show_default=True)
@click.option("--run", "run_files", multiple=True, metavar="PROFILE_ID=RUN",
              help="The run a profile was measured on: adds overlaid target-ion traces.")
@_store_options
@guarded
def report(profile_ids: tuple[str, ...], method_name: str, out: str, language: str,
           run_files: tuple[str, ...], store_location: str | None, actor: str | None) -> None:
    """Linkage report (PDF) of two or more stored seizures: a pair or a cluster."""
    from gcms.io import read
    from gcms.profiling.report import linkage_report
    from gcms.profiling.store import ProfileStore

    method = _method(method_name)
    runs = {}
    for item in run_files:
        pid, sep, path = item.partition("=")
        if not sep or not path:
            raise CommandError(f"--run {item!r}: write PROFILE_ID=RUN_FILE")
        runs[pid] = read(path)
    with ProfileStore(store_location, actor=actor, create=False) as store:
        path = linkage_report(store, method, profile_ids, out, language=language,
                              runs=runs or None)
    click.echo(str(path))
