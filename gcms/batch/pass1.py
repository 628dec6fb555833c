"""Pass 1: what can be done with each run on its own (read, deconvolute, search; ladder).

Runs are independent here, so pass 1 runs in parallel (one process per core); its
result per run, :class:`RunAnalysis`, is plain data that round-trips through JSON
exactly (floats as Python writes them), which is what the resume cache stores
(:mod:`gcms.batch.cache`). A file that cannot be read gives a :class:`RunFailure`
naming the file and the problem instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from gcms.batch.settings import PASS1_FORMAT, BatchSettings
from gcms.errors import GcmsError

if TYPE_CHECKING:  # pragma: no cover
    from gcms.deconvolution import Component, Deconvolution
    from gcms.library import Hit, Library
    from gcms.retention import RetentionCalibration
    from gcms.run import Run

__all__ = ["RunAnalysis", "RunFailure", "analyse_run", "run_summary"]


@dataclass(frozen=True, slots=True)
class RunFailure:
    """A run that could not be processed: its file and what is wrong with it."""

    file: str
    problem: str
    kind: str = "unreadable"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"file": self.file, "problem": self.problem, "kind": self.kind}


@dataclass(frozen=True, slots=True, eq=False)
class RunAnalysis:
    """Pass-1 result of one run.

    Attributes
    ----------
    file, input_sha256
        The run's path as given and the digest of its bytes (:func:`gcms.batch.cache.input_digest`).
    run
        :func:`run_summary` of the run read (metadata, SHA-256 of the data file decoded,
        scans, time and m/z range).
    deconvolution
        The components and the run's noise model.
    hits
        Per component (same order), its library hits, best first.
    synonyms
        Synonyms of every library entry among the hits (entry index -> names).
    library_sha256
        Content hash of the library searched.
    ladder, calibration, ladder_problem
        For ladder runs: the ladder found (JSON form) and its RT -> RI calibration, or
        why none was found.
    seconds
        Time spent per stage (read, deconvolve, search, ladder).
    """

    file: str
    input_sha256: str
    run: Mapping[str, Any]
    deconvolution: Deconvolution
    hits: tuple[tuple[Hit, ...], ...]
    synonyms: Mapping[int, tuple[str, ...]]
    library_sha256: str
    ladder: Mapping[str, Any] | None = None
    calibration: RetentionCalibration | None = None
    ladder_problem: str | None = None
    seconds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "run", MappingProxyType(dict(self.run)))
        object.__setattr__(self, "synonyms", MappingProxyType(
            {int(k): tuple(v) for k, v in self.synonyms.items()}))
        object.__setattr__(self, "seconds", MappingProxyType(dict(self.seconds)))
        if len(self.hits) != len(self.deconvolution.components):
            raise ValueError(f"{self.file}: {len(self.hits)} hit lists for "
                             f"{len(self.deconvolution.components)} components")

    def __reduce__(self):
        # Sent from batch workers as plain data, rebuilt (and checked) on arrival: the
        # same path as a record read back from the cache.
        return (_from_dict, (self.to_dict(),))

    def relocated(self, path: str) -> RunAnalysis:
        """The same analysis of the same bytes, found now at ``path``.

        A record reused from the cache names the file where it was first processed; when
        the runs have since been moved or copied (same digest, other place), the record
        must name where they are now: the run, the data file decoded inside it, and the
        ladder's source.
        """
        if path == self.file:
            return self
        old = Path(self.file)

        def moved(value: Any) -> Any:
            if not isinstance(value, str) or not value:
                return value
            try:
                inside = Path(value).relative_to(old)
            except ValueError:  # not at or below the run's old path: left as recorded
                return value
            return path if inside == Path() else str(Path(path) / inside)

        def with_source(mapping: Mapping[str, Any]) -> dict[str, Any]:
            source = mapping.get("source")
            if not isinstance(source, Mapping):
                return dict(mapping)
            return {**mapping, "source": {**source, "path": moved(source.get("path"))}}

        run = {**self.run, "data_file": moved(self.run.get("data_file"))}
        ladder = with_source(self.ladder) if self.ladder is not None else None
        calibration = self.calibration
        if calibration is not None and calibration.source:
            calibration = replace(calibration, source=with_source(
                {"source": calibration.source})["source"])
        return replace(self, file=path, run=run, ladder=ladder, calibration=calibration,
                       deconvolution=replace(self.deconvolution,
                                             source_path=moved(self.deconvolution.source_path)))

    @property
    def components(self) -> tuple[Component, ...]:
        """The run's components in retention-time order."""
        return self.deconvolution.components

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON form; :meth:`from_dict` rebuilds an equal analysis."""
        d = self.deconvolution
        return {
            "format": PASS1_FORMAT,
            "file": self.file,
            "input_sha256": self.input_sha256,
            "run": dict(self.run),
            "library_sha256": self.library_sha256,
            "deconvolution": {
                "settings": d.settings.to_dict(),
                "noise": d.noise.to_dict(),
                "peak_width_s": d.peak_width_s,
                "skew_scans_per_100u": d.skew_scans_per_100u,
                "mz_range": list(d.mz_range),
                "rejected": dict(d.rejected),
                "source_path": d.source_path,
                "sha256": d.sha256,
                "components": [_component_dict(c) for c in d.components],
            },
            "hits": [[h.to_dict() for h in hits] for hits in self.hits],
            "synonyms": {str(k): list(v) for k, v in self.synonyms.items()},
            "ladder": dict(self.ladder) if self.ladder is not None else None,
            "calibration": self.calibration.to_dict() if self.calibration is not None else None,
            "ladder_problem": self.ladder_problem,
            "seconds": dict(self.seconds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunAnalysis:
        """Rebuild from :meth:`to_dict` output (checked by the dataclasses it builds)."""
        from gcms.deconvolution import Deconvolution, DeconvolutionSettings
        from gcms.library import Hit
        from gcms.retention import RetentionCalibration
        from gcms.signal.noise import NoiseModel

        if data.get("format") != PASS1_FORMAT:
            raise ValueError(f"pass-1 record format {data.get('format')!r}, "
                             f"this gcms writes {PASS1_FORMAT}")
        dec = data["deconvolution"]
        settings = {k: tuple(v) if isinstance(v, list) else v
                    for k, v in dec["settings"].items()}
        deconvolution = Deconvolution(
            components=tuple(_component_from(c) for c in dec["components"]),
            settings=DeconvolutionSettings(**settings),
            noise=NoiseModel(**dec["noise"]),
            peak_width_s=dec["peak_width_s"],
            skew_scans_per_100u=dec["skew_scans_per_100u"],
            mz_range=tuple(dec["mz_range"]),
            rejected=dec["rejected"],
            source_path=dec["source_path"],
            sha256=dec["sha256"],
        )
        hits = tuple(tuple(Hit(**h) for h in row) for row in data["hits"])
        calibration = (RetentionCalibration.from_dict(data["calibration"])
                       if data.get("calibration") else None)
        return cls(file=data["file"], input_sha256=data["input_sha256"], run=data["run"],
                   deconvolution=deconvolution, hits=hits,
                   synonyms={int(k): tuple(v) for k, v in data["synonyms"].items()},
                   library_sha256=data["library_sha256"], ladder=data.get("ladder"),
                   calibration=calibration, ladder_problem=data.get("ladder_problem"),
                   seconds=data.get("seconds", {}))


def _from_dict(data: Mapping[str, Any]) -> RunAnalysis:
    return RunAnalysis.from_dict(data)


def _component_dict(c: Component) -> dict[str, Any]:
    return {"rt_s": c.rt_s, "scan": c.scan, "model_mz": c.model_mz, "area": c.area,
            "height": c.height, "snr": c.snr, "purity": c.purity,
            "start_scan": c.start_scan, "end_scan": c.end_scan, "width_s": c.width_s,
            "profile": c.profile.tolist(), "warnings": list(c.warnings),
            "spectrum": {"mz": c.spectrum.mz.tolist(), "intensity": c.spectrum.intensity.tolist()}}


def _component_from(data: Mapping[str, Any]) -> Component:
    from gcms.deconvolution import Component
    from gcms.spectrum import Spectrum

    values = dict(data)
    peaks = values.pop("spectrum")
    spectrum = Spectrum(mz=np.asarray(peaks["mz"], dtype=np.float64),
                        intensity=np.asarray(peaks["intensity"], dtype=np.float64),
                        rt_seconds=values["rt_s"])
    return Component(spectrum=spectrum, profile=np.asarray(values.pop("profile")),
                     warnings=tuple(values.pop("warnings")), **values)


#: The facts of :meth:`gcms.Run.summary` a result record keeps about the run read.
RUN_SUMMARY_KEYS = ("sample_name", "acquired_at", "operator", "instrument", "method",
                    "tune_file", "format", "data_file", "sha256", "acquisition", "n_scans",
                    "rt_range_s")


def run_summary(run: Run) -> dict[str, Any]:
    """What a result record says about the run read: metadata, digest, extent.

    The facts of :meth:`gcms.Run.summary` (one serialisation of the metadata), with the
    nominal m/z range that identification works on.
    """
    facts = run.summary()
    mz = run.nominal_mz_range
    return {**{key: facts[key] for key in RUN_SUMMARY_KEYS},
            "mz_range": list(mz) if mz else None}


def analyse_run(path: str | Path, *, library: Library, settings: BatchSettings,
                ladder: bool = False, input_sha256: str = "") -> RunAnalysis:
    """Read, deconvolute and search one run; for a ladder run also find the ladder.

    Raises
    ------
    GcmsError
        The file cannot be read (:class:`gcms.FormatError` naming it), or holds no
        usable data for the deconvolution.
    """
    from gcms.deconvolution import deconvolve
    from gcms.io import read
    from gcms.library import search

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    run = read(path)
    if run.metadata.acquisition == "trace":
        raise GcmsError(f"{path}: a detector trace without mass spectra cannot be identified")
    t1 = time.perf_counter()
    seconds["read"] = t1 - t0
    deconvolution = deconvolve(run, settings.deconvolution)
    t2 = time.perf_counter()
    seconds["deconvolve"] = t2 - t1
    components = deconvolution.components
    if components:
        results = search(library, [c.spectrum for c in components], top=settings.top,
                         settings=settings.search)
        hits = tuple(r.hits for r in results)
    else:
        hits = ()
    synonyms = {h.library_index: library.entry(h.library_index).synonyms
                for row in hits for h in row}
    t3 = time.perf_counter()
    seconds["search"] = t3 - t2
    ladder_record, calibration, problem = None, None, None
    if ladder:
        ladder_record, calibration, problem = _ladder(run, settings)
        seconds["ladder"] = time.perf_counter() - t3
    return RunAnalysis(file=str(path), input_sha256=input_sha256, run=run_summary(run),
                       deconvolution=deconvolution, hits=hits, synonyms=synonyms,
                       library_sha256=library.content_sha256, ladder=ladder_record,
                       calibration=calibration, ladder_problem=problem, seconds=seconds)


def _ladder(run: Run, settings: BatchSettings):
    from gcms.retention import find_ladder

    try:
        found = find_ladder(run, settings=settings.ladder)
        kovats = settings.ri_method == "kovats"
        calibration = found.calibration(method=settings.ri_method,
                                        dead_time_s="estimate" if kovats else None)
    except ValueError as error:
        return None, None, f"no usable alkane ladder: {error}"
    record = found.to_dict()
    if not all(math.isfinite(m["rt_seconds"]) for m in record["members"]):
        return None, None, "no usable alkane ladder: a member without a retention time"
    return record, calibration, None
