"""The bundled demo: a simulated instrument sequence identified end to end.

``gcms batch gcms/data/demo/sequence.csv --out demo-results`` runs it. The runs were
made by :func:`make_demo` (``python -m gcms.demo --out gcms/data/demo``) with
:mod:`gcms.simulate` from the spectra of the demo library (``demo_drugs.h5``, a copy of
``spectral_libraries/demo_drugs.h5``), so that a library search finds them, at
retention times that the simulated alkane ladder maps to the library's retention
indices (each compound's "true" RI on the simulated column differs from the library
value by a fixed few units, as a real column's would).

The sequence (:data:`DEMO_PLAN`): an n-alkane ladder C9-C26, a solvent blank, a mixed
reference standard, then four exhibits, each after its own blank:

* E1, a Captagon-like tablet: amphetamine, caffeine, theophylline (+ an unknown
  excipient that is in no library);
* E2, crystals: methamphetamine;
* E3, a powder: cocaine cut with levamisole and phenacetin;
* E4, a tablet with no controlled drug: paracetamol and caffeine (paracetamol has no
  standard in the sequence: its retention evidence is the library RI through the ladder).

The runs carry acquisition times (:data:`DEMO_START`, one injection every
:data:`INJECTION_INTERVAL_MIN` minutes). Two PFTBA tunes of the same morning
(:data:`DEMO_TUNES`, made by :func:`gcms.qa.simulate.pftba_run`) go with the demo
instrument profile ``instruments/demo-quadrupole.toml``: ``tune-pass.cdf`` passes the
autotune criteria, ``tune-fail.cdf`` (acquired later, after a column change) shows an
air leak. Recorded in the QA history, the first lets ``gcms batch ... --instrument
demo-quadrupole`` report the exhibits; the second blocks reporting.

DEMO DATA, NOT EVIDENCE: simulated runs and authored spectra, for trying the toolkit.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_PLAN",
    "DEMO_SEED",
    "DEMO_START",
    "DEMO_TUNES",
    "DEMO_USERS",
    "DemoRun",
    "DemoStore",
    "DemoUser",
    "DemoTune",
    "acquired_at",
    "demo_folder",
    "demo_library_path",
    "demo_sequence_path",
    "is_demo_file",
    "make_demo",
    "make_demo_store",
    "make_tune",
]

#: Seed of everything random in the demo (noise of each run, RI offsets, unknowns).
DEMO_SEED = 2024
#: The ladder's members and their apex times (s): gcms.retention.simulate's
#: temperature-programme model, C9 at 150 s, intervals growing towards 30 s.
LADDER_CARBONS = tuple(range(9, 27))
LADDER_FIRST_S = 150.0
LADDER_SPACING_S = 30.0
#: Largest difference (RI units) between a compound's RI on the simulated column and
#: the demo library's value.
RI_OFFSET_MAX = 6.0
#: Run-to-run scatter of retention times (s, standard deviation).
RT_JITTER_S = 0.12
#: The simulated instrument: scan 40-450 at 4 scans/s from 2 to about 10.7 min, peaks
#: 2.5 s wide at half height with some tailing, ion-counting noise, a chemical
#: background and column bleed; abundances below the acquisition threshold of 450 are
#: not recorded (as instruments do), which keeps the files small.
SIMULATION = {"start_s": 120.0, "duration_s": 520.0, "scan_rate_hz": 4.0, "mz_min": 40,
              "mz_max": 450, "fwhm_s": 2.5, "tau_s": 0.5, "gain": 10.0,
              "background": 200.0, "drift": 0.3, "bleed": 1500.0, "threshold": 450.0,
              "spikes_per_scan": 0.02}
#: Base-peak S/N of each ladder member.
LADDER_SNR = 400.0
#: The case the exhibits belong to.
DEMO_CASE = "DEMO-2024-017"
#: Acquisition time of the first injection; the others follow every
#: ``INJECTION_INTERVAL_MIN`` minutes (a run of 8.7 min plus oven cool-down).
DEMO_START = datetime(2024, 5, 14, 9, 0, tzinfo=timezone.utc)
INJECTION_INTERVAL_MIN = 15


@dataclass(frozen=True, slots=True)
class DemoTune:
    """A simulated PFTBA autotune of the demo instrument.

    ``air_water``: heights of m/z 18, 28, 32, 44 (% of m/z 69); ``minutes_before``: how
    long before the first injection it was acquired.
    """

    file: str
    minutes_before: float
    air_water: tuple[tuple[int, float], ...]
    description: str

    @property
    def acquired_at(self) -> datetime:
        """When the tune was acquired."""
        return DEMO_START - timedelta(minutes=self.minutes_before)


#: The tunes: a passing one at 07:30, then at 08:30 (after a column change) one whose
#: nitrogen and oxygen (28/69 = 18 %, 28:32 = 3.75) show an air leak.
DEMO_TUNES: tuple[DemoTune, ...] = (
    DemoTune("tune-pass.cdf", 90.0, ((18, 2.5), (28, 1.8), (32, 0.5), (44, 0.4)),
             "PFTBA autotune, tight and dry system"),
    DemoTune("tune-fail.cdf", 30.0, ((18, 3.0), (28, 18.0), (32, 4.8), (44, 0.6)),
             "PFTBA autotune after a column change: air leak"),
)
#: Scans of each tune acquisition (continuous calibrant, no chromatographic peak).
TUNE_SCANS = 10


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One injection of the demo sequence: what it is and what was put in.

    ``compounds``: (demo library name, base-peak S/N); ``unknowns``: (S/N, retention
    index) of compounds that are in no library.
    """

    file: str
    type: str
    sample_id: str
    exhibit_id: str = ""
    reference_substance: str = ""
    compounds: tuple[tuple[str, float], ...] = ()
    unknowns: tuple[tuple[float, float], ...] = ()
    description: str = ""


_STANDARD = ("Amphetamine", "Methamphetamine", "Phenacetin", "Caffeine", "Levamisole",
             "Theophylline", "Cocaine")

#: The demo sequence, in injection order.
DEMO_PLAN: tuple[DemoRun, ...] = (
    DemoRun("01-ladder.cdf", "ladder", "LAD-01", description="n-alkanes C9-C26"),
    DemoRun("02-blank.cdf", "blank", "BLK-01", description="solvent blank"),
    DemoRun("03-standard.cdf", "standard", "STD-01", reference_substance=";".join(_STANDARD),
            compounds=tuple((name, 500.0) for name in _STANDARD),
            description="mixed reference standard"),
    DemoRun("04-blank.cdf", "blank", "BLK-02", description="solvent blank"),
    DemoRun("05-exhibit-E1.cdf", "sample", "E1-01", exhibit_id="E1",
            compounds=(("Amphetamine", 300.0), ("Caffeine", 1500.0), ("Theophylline", 400.0)),
            unknowns=((80.0, 1560.0),), description="Captagon-like tablet"),
    DemoRun("06-blank.cdf", "blank", "BLK-03", description="solvent blank"),
    DemoRun("07-exhibit-E2.cdf", "sample", "E2-01", exhibit_id="E2",
            compounds=(("Methamphetamine", 1200.0),), description="crystals"),
    DemoRun("08-blank.cdf", "blank", "BLK-04", description="solvent blank"),
    DemoRun("09-exhibit-E3.cdf", "sample", "E3-01", exhibit_id="E3",
            compounds=(("Cocaine", 1500.0), ("Levamisole", 300.0), ("Phenacetin", 500.0)),
            description="powder"),
    DemoRun("10-blank.cdf", "blank", "BLK-05", description="solvent blank"),
    DemoRun("11-exhibit-E4.cdf", "sample", "E4-01", exhibit_id="E4",
            compounds=(("Paracetamol", 1500.0), ("Caffeine", 300.0)),
            unknowns=((60.0, 1420.0),), description="tablet, no controlled drug"),
)


def demo_folder() -> Path:
    """Folder of the bundled demo data (inside the installed package)."""
    return Path(str(resources.files("gcms") / "data" / "demo"))


def demo_library_path() -> Path:
    """The bundled demo library (a copy of ``spectral_libraries/demo_drugs.h5``)."""
    return demo_folder() / "demo_drugs.h5"


def demo_sequence_path() -> Path:
    """The bundled demo sequence CSV."""
    return demo_folder() / "sequence.csv"


def is_demo_file(path: str | Path) -> bool:
    """Whether ``path`` is one of the bundled demo files: same name and same bytes.

    Compared by content, not by place: the demo sequence of a source tree and the one
    installed with the package are the same demo. This is how the command line knows
    that the demo's own library (:func:`demo_library_path`) is the one to use when no
    library is named: for the demo's data, never for anything else.
    """
    import hashlib

    path = Path(path)
    bundled = demo_folder() / path.name
    if not path.is_file() or not bundled.is_file():
        return False
    if path.resolve() == bundled.resolve():
        return True
    if path.stat().st_size != bundled.stat().st_size:
        return False
    return (hashlib.sha256(path.read_bytes()).digest()
            == hashlib.sha256(bundled.read_bytes()).digest())


def acquired_at(index: int) -> datetime:
    """Acquisition time of the run at ``index`` (0-based) of :data:`DEMO_PLAN`."""
    return DEMO_START + timedelta(minutes=INJECTION_INTERVAL_MIN * index)


def make_tune(tune: DemoTune, seed: int):
    """The :class:`gcms.Run` of one demo tune (centroid PFTBA scans, acquisition time)."""
    from gcms.qa.simulate import pftba_run, pftba_spectrum

    run = pftba_run(pftba_spectrum(air_water=dict(tune.air_water)), n_scans=TUNE_SCANS,
                    seed=seed)
    return run.replace(metadata=run.metadata.replace(
        sample_name=f"PFTBA tune (simulated): {tune.description}", acquired_at=tune.acquired_at,
        instrument="gcms.simulate (scanning quadrupole model)", tune_file=tune.file))


def _settings(seed: int):
    from gcms.simulate import SimulationSettings

    return SimulationSettings(seed=seed, **SIMULATION)


def _ri_offsets(names: list[str], seed: int) -> dict[str, float]:
    import numpy as np

    rng = np.random.default_rng([seed, 1])
    values = rng.uniform(-RI_OFFSET_MAX, RI_OFFSET_MAX, len(names))
    return {name: round(float(v), 1) for name, v in zip(sorted(names), values, strict=True)}


def _unknown(seed: int, library) -> Any:
    """A random EI spectrum that no library entry matches (identity MF < 500)."""
    from gcms.library import search
    from gcms.simulate import random_spectrum

    for attempt in range(100):
        spectrum = random_spectrum(seed * 1000 + attempt, mw=None, mz_min=40,
                                   name="unknown excipient")
        hits = search(library, spectrum, top=1)[0].hits
        if not hits or hits[0].match_factor < 500:
            return spectrum
    raise RuntimeError("no random spectrum unlike the library found")  # pragma: no cover


def plan_truth(library=None) -> list[dict[str, Any]]:
    """Every run of :data:`DEMO_PLAN` with its compounds' RT (s), RI and amount.

    Deterministic: the same seed gives the same plan on every machine.
    """
    import numpy as np

    from gcms.library import Library
    from gcms.retention import RetentionCalibration
    from gcms.retention.simulate import ladder_retention_times
    from gcms.simulate import amount_for_snr

    library = library or Library.open(demo_library_path())
    names = list(library.column("name"))
    ladder_rt = ladder_retention_times(LADDER_CARBONS, first_s=LADDER_FIRST_S,
                                       spacing_s=LADDER_SPACING_S)
    calibration = RetentionCalibration(ladder_rt, 100.0 * np.asarray(LADDER_CARBONS))
    drugs = sorted({name for run in DEMO_PLAN for name, _ in run.compounds})
    offsets = _ri_offsets(drugs, DEMO_SEED)
    out = []
    for index, run in enumerate(DEMO_PLAN):
        seed = DEMO_SEED * 100 + index
        settings = _settings(seed)
        rng = np.random.default_rng([seed, 2])
        compounds = []
        for name, snr in run.compounds:
            spectrum = library.spectrum(names.index(name))
            ri = spectrum.retention_index + offsets[name]
            rt = float(calibration.predict_rt(ri).rt_seconds[0]) + rng.normal(0, RT_JITTER_S)
            compounds.append({"name": name, "library_ri": spectrum.retention_index,
                              "column_ri": ri, "rt_s": round(rt, 3), "snr": snr,
                              "amount": amount_for_snr(spectrum, snr, settings=settings,
                                                       rt_s=rt)})
        for k, (snr, ri) in enumerate(run.unknowns):
            rt = float(calibration.predict_rt(ri).rt_seconds[0]) + rng.normal(0, RT_JITTER_S)
            compounds.append({"name": "unknown excipient", "unknown_seed": seed * 10 + k,
                              "column_ri": ri, "rt_s": round(rt, 3), "snr": snr})
        if run.type == "ladder":
            from gcms.retention.simulate import alkane_spectrum

            for carbons, rt in zip(LADDER_CARBONS, ladder_rt, strict=True):
                spectrum = alkane_spectrum(carbons)
                compounds.append({"name": f"C{carbons}", "column_ri": 100.0 * carbons,
                                  "rt_s": round(float(rt), 3), "snr": LADDER_SNR,
                                  "amount": amount_for_snr(spectrum, LADDER_SNR,
                                                           settings=settings, rt_s=float(rt))})
        out.append({"file": run.file, "type": run.type, "sample_id": run.sample_id,
                    "exhibit_id": run.exhibit_id, "description": run.description,
                    "reference_substance": run.reference_substance, "seed": seed,
                    "compounds": compounds})
    return out


def make_demo(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Generate the demo sequence into ``out_dir``; returns the sequence CSV's path.

    Writes one ANDI/AIA netCDF file per run of :data:`DEMO_PLAN` and per tune of
    :data:`DEMO_TUNES`, ``sequence.csv`` (relative file names), ``truth.json`` (what each
    run holds: names, RT, RI, amount, S/N, acquisition time; the tunes) and, when absent,
    a copy of the demo library.
    """
    import shutil

    from gcms.library import Library
    from gcms.retention.simulate import alkane_spectrum
    from gcms.simulate import amount_for_snr, simulate, write

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    library_file = out / "demo_drugs.h5"
    if not library_file.exists():
        shutil.copyfile(demo_library_path(), library_file)
    library = Library.open(library_file)
    names = list(library.column("name"))
    truth = plan_truth(library)
    for run, plan in zip(DEMO_PLAN, truth, strict=True):
        settings = _settings(plan["seed"])
        items = []
        for compound in plan["compounds"]:
            if compound["name"] == "unknown excipient":
                spectrum = _unknown(compound["unknown_seed"], library)
                compound["amount"] = amount_for_snr(spectrum, compound["snr"],
                                                    settings=settings, rt_s=compound["rt_s"])
            elif run.type == "ladder":
                spectrum = alkane_spectrum(int(compound["name"][1:]))
            else:
                spectrum = library.spectrum(names.index(compound["name"]))
            items.append((spectrum, compound["rt_s"], compound["amount"]))
        simulation = simulate(items, settings=settings,
                              name=f"{run.sample_id} {run.description}".strip())
        index = DEMO_PLAN.index(run)
        simulated = simulation.run
        simulated = simulated.replace(metadata=simulated.metadata.replace(
            acquired_at=acquired_at(index)))
        write(simulated, out / run.file, overwrite=overwrite)
        plan["acquired_at"] = acquired_at(index).isoformat()
    tunes = []
    for k, tune in enumerate(DEMO_TUNES):
        write(make_tune(tune, DEMO_SEED * 10 + k), out / tune.file, overwrite=overwrite)
        tunes.append({"file": tune.file, "acquired_at": tune.acquired_at.isoformat(),
                      "description": tune.description,
                      "air_water_percent_of_69": {str(m): v for m, v in tune.air_water}})
    from gcms.identifiers import spreadsheet_safe_row

    with open(out / "sequence.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "type", "sample_id", "case_id", "exhibit_id",
                         "reference_substance"])
        for run in DEMO_PLAN:
            writer.writerow(spreadsheet_safe_row([run.file, run.type, run.sample_id, DEMO_CASE,
                                                  run.exhibit_id, run.reference_substance]))
    for plan in truth:
        for compound in plan["compounds"]:
            compound["amount"] = (round(compound["amount"], 1)
                                  if math.isfinite(compound.get("amount", math.nan)) else None)
    (out / "truth.json").write_text(json.dumps({"seed": DEMO_SEED, "simulation": SIMULATION,
                                                "runs": truth, "tunes": tunes}, indent=1)
                                    + "\n", encoding="utf-8")
    return out / "sequence.csv"


@dataclass(frozen=True)
class DemoUser:
    """A user of the demo store, with the DEMO-ONLY secrets that open it."""

    user_id: str
    printed_name: str
    roles: tuple[str, ...]
    passphrase: str  # of the key file USER.key
    password: str  # of the workstation's sign-in


#: The demo store's users: alice ran the batch (the store's first admin and its analyst),
#: bob reviews, carol is QA. Their passphrases and passwords are printed in this source
#: and on screen: DEMO ONLY, never for a store that holds casework.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("alice", "Alice Analyst", ("admin", "analyst"),
             "alice demo passphrase", "alice demo password"),
    DemoUser("bob", "Bob Reviewer", ("reviewer",), "bob demo passphrase", "bob demo password"),
    DemoUser("carol", "Carol Quality", ("qa",), "carol demo passphrase", "carol demo password"),
)


@dataclass(frozen=True)
class DemoStore:
    """What :func:`make_demo_store` made: the store, the users' keys, the batch's results."""

    folder: Path
    store: Path
    keys: Path
    results: Path
    case_id: str = DEMO_CASE
    users: tuple[DemoUser, ...] = DEMO_USERS

    def review_command(self) -> str:
        """The ``gcms review`` command line that serves this store."""
        return (f"gcms review --store {self.store} --keys {self.keys} "
                f"--lab {demo_folder() / 'lab.toml'}")


def make_demo_store(folder: str | Path, *, workers: int | None = 1) -> DemoStore:
    """A case store of the demo batch with three users, for trying ``gcms review``.

    In the NEW folder ``folder``: ``store/`` (the case store: the demo sequence through
    ``gcms batch --store store --case DEMO-2024-017 --analyst alice``), ``results/`` (the
    batch's results) and ``keys/`` (each user's key pair), with the users of
    :data:`DEMO_USERS` enrolled, their keys registered and their sign-in passwords set,
    exactly as the commands of the review guide (docs/guide/review-workstation.md) do it
    one by one. The passphrases and passwords are public (DEMO ONLY): a folder that
    exists and is not empty is refused, so that demo users are never added to a store
    that holds casework.
    """
    from gcms.batch import run_batch
    from gcms.custody import CaseStore, new_key_pair
    from gcms.custody.batch import ProcessedBy, RecordInStore
    from gcms.custody.credentials import set_password
    from gcms.errors import GcmsError

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise GcmsError(f"{folder}: exists and is not an empty folder; a demo store (with "
                        "public demo passwords) is only made in a new folder, never added "
                        "to an existing store")
    made = DemoStore(folder, folder / "store", folder / "keys", folder / "results")
    admin = DEMO_USERS[0]
    run_batch(demo_sequence_path(), library=demo_library_path(), out_dir=made.results,
              workers=workers, steps=[ProcessedBy(admin.user_id),
                                      RecordInStore(str(made.store), DEMO_CASE, admin.user_id)])
    keys = {user.user_id: new_key_pair(made.keys, user.user_id, user.passphrase)[2]
            for user in DEMO_USERS}
    signer = keys[admin.user_id]
    with CaseStore(made.store, actor=admin.user_id, create=False) as store:
        store.register_key(signer, user=admin.user_id, printed_name=admin.printed_name)
        for user in DEMO_USERS[1:]:
            store.add_user(user.user_id, roles=list(user.roles), printed_name=user.printed_name,
                           key=signer)
            store.register_key(made.keys / f"{user.user_id}.pub", user=user.user_id,
                               key=signer)
        for user in DEMO_USERS:
            set_password(store, user.user_id, user.password, key=signer,
                         reason="demo store: public demo password")
    return made


def main(argv: list[str] | None = None) -> None:
    """``python -m gcms.demo``: regenerate the demo sequence, or make a demo store.

    ``--out DIR`` regenerates the runs; ``--store DIR`` makes a demo case store for
    ``gcms review`` (:func:`make_demo_store`) and prints its users' demo secrets.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(demo_folder()), help="folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace existing runs")
    parser.add_argument("--store", metavar="DIR",
                        help="instead: make a demo case store with demo users in the new "
                             "folder DIR (DEMO ONLY: the passwords are public)")
    args = parser.parse_args(argv)
    if args.store is None:
        path = make_demo(args.out, overwrite=args.overwrite)
        print(path)  # noqa: T201 - a command-line entry point
        return
    from gcms.errors import GcmsError

    try:
        made = make_demo_store(args.store)
    except GcmsError as error:
        raise SystemExit(f"error: {error}") from None
    lines = [f"demo store {made.store}: case {made.case_id}, the demo batch "
             f"(results: {made.results}), keys in {made.keys}",
             "DEMO ONLY - these passphrases and passwords are public; never use them, "
             "or this store, for casework:"]
    lines += [f"  {u.user_id:<6} {','.join(u.roles):<14} sign-in password '{u.password}', "
              f"key passphrase '{u.passphrase}'" for u in made.users]
    lines.append(f"start the workstation: {made.review_command()}")
    print("\n".join(lines))  # noqa: T201 - a command-line entry point


if __name__ == "__main__":
    main()
