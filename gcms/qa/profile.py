"""Instrument profiles (TOML): identity, column, carrier, tune criteria, QA limits.

A profile is one TOML file per instrument. It is validated on load: an unknown key, a
value of the wrong type or a limit out of range raises :class:`gcms.errors.ProfileError`
naming the file, the key (``tune.limits.air_28_69.high``) and the problem. The schema::

    schema = "gcms-instrument-profile/1"

    [identity]            id (required), lab, vendor, model, serial, location, ionization
    [column]              name, phase, length_m, inner_diameter_mm, film_um, ri_column_type
    [carrier]             gas, mode, flow_ml_min
    [tune]                criteria (a name or a list of names of gcms.qa.TUNE_CRITERIA),
                          max_age_days, electron_multiplier_max_v,
                          electron_multiplier_jump_v
    [tune.limits.KEY]     low, high, required: override one rule of the named sets
    [qa]                  westgard_rules, baseline_points, charted, block_reporting
    [qa.control_limits.METRIC]  mean, sd: fixed control limits for a charted metric
    [ladder]              series, first_carbon, last_carbon, step, min_members, ri_method,
                          dead_time_s, rt_window_s, max_age_hours, max_missing_members,
                          history_rt_window_s, history_points, min_resolution,
                          max_tailing_factor, min_plate_count, min_signal_to_noise
    [ladder.expected_rt_s]  C8 = 245.1, C9 = ... (seconds)
    [check_standard]      name, rt_window_s, ri_window, min_match_factor,
                          min_signal_to_noise, max_tailing_factor, min_plate_count,
                          max_age_hours
    [[check_standard.compounds]]       name, expected_rt_s, expected_ri, rt_window_s,
                          ri_window, min_match_factor, min_signal_to_noise,
                          quantitation_ion, max_tailing_factor, min_plate_count,
                          low_level (bool: the S/N standard)
    [[check_standard.critical_pairs]]  first, second, min_resolution

Where profiles are found (:func:`load_profile` given a name rather than a path,
:func:`gcms.config.search_path`): the folders in ``$GCMS_INSTRUMENTS``
(``os.pathsep``-separated), then ``./instruments`` of the working directory, then the
examples shipped inside the package (``gcms/qa/profiles``, the same files as the
repository's ``instruments/``). A name matches a file's stem or its ``identity.id``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gcms.config import (
    Document,
    did_you_mean,
    from_table,
    parse_toml,
    read_toml,
    search_path,
)
from gcms.config import (
    limits as _range,
)
from gcms.errors import ProfileError
from gcms.qa.tune_criteria import TUNE_CRITERIA, TuneCriteriaSet
from gcms.qa.westgard import WESTGARD_RULES

__all__ = [
    "SCHEMA",
    "Carrier",
    "CheckCompound",
    "CheckStandardSection",
    "Column",
    "ControlLimit",
    "CriticalPair",
    "Identity",
    "InstrumentProfile",
    "LadderSection",
    "LimitOverride",
    "QASection",
    "TuneSection",
    "available_profiles",
    "find_profile",
    "load_profile",
    "parse_profile",
]

#: The schema this module reads; written as ``schema = ...`` at the top of a profile.
SCHEMA = "gcms-instrument-profile/1"

#: Folder of the example profiles shipped with the package.
PACKAGED_PROFILES = Path(__file__).with_name("profiles")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the instrument is: the lab's ID (required) and what a report prints about it."""

    id: str
    lab: str = ""
    vendor: str = ""
    model: str = ""
    serial: str = ""
    location: str = ""
    ionization: str = "EI 70 eV"


@dataclass(frozen=True, slots=True)
class Column:
    """The analytical column (``ri_column_type`` matches library RI column types)."""

    name: str = ""
    phase: str = ""
    length_m: float | None = field(default=None, metadata=_range(0, 200, low_open=True))
    inner_diameter_mm: float | None = field(default=None, metadata=_range(0, 1, low_open=True))
    film_um: float | None = field(default=None, metadata=_range(0, 10, low_open=True))
    ri_column_type: str = ""


@dataclass(frozen=True, slots=True)
class Carrier:
    """Carrier gas and flow control."""

    gas: Literal["helium", "hydrogen", "nitrogen"] = "helium"
    mode: Literal["constant flow", "constant pressure"] = "constant flow"
    flow_ml_min: float | None = field(default=None, metadata=_range(0, 20, low_open=True))


@dataclass(frozen=True, slots=True)
class LimitOverride:
    """A lab's own bounds for one tune rule (unset bounds keep the named set's)."""

    low: float | None = None
    high: float | None = None
    required: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The set bounds only."""
        return {k: getattr(self, k) for k in ("low", "high", "required")
                if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class TuneSection:
    """Which tune criteria apply and the lab's overrides of their limits."""

    criteria: tuple[str, ...]
    limits: Mapping[str, LimitOverride] = field(default_factory=dict)
    max_age_days: float | None = field(default=7.0, metadata=_range(0, 365, low_open=True))
    electron_multiplier_max_v: float | None = field(
        default=None, metadata=_range(0, 5000, low_open=True))
    electron_multiplier_jump_v: float | None = field(
        default=None, metadata=_range(0, 5000, low_open=True))

    def criteria_sets(self) -> tuple[TuneCriteriaSet, ...]:
        """The named sets with this profile's limits applied."""
        overrides = {k: v.to_dict() for k, v in self.limits.items()}
        return tuple(TUNE_CRITERIA[name].with_overrides(overrides) for name in self.criteria)


@dataclass(frozen=True, slots=True)
class ControlLimit:
    """Fixed control limits of one charted metric (instead of limits from a baseline)."""

    mean: float
    sd: float = field(metadata=_range(0, None, low_open=True))


@dataclass(frozen=True, slots=True)
class QASection:
    """Control charting and what QA failures do."""

    westgard_rules: tuple[str, ...] = WESTGARD_RULES
    baseline_points: int = field(default=20, metadata=_range(2, 1000))
    charted: tuple[str, ...] = ()
    control_limits: Mapping[str, ControlLimit] = field(default_factory=dict)
    block_reporting: bool = True


@dataclass(frozen=True, slots=True)
class LadderSection:
    """What the alkane (or FAME) ladder of this instrument is expected to look like.

    ``rt_window_s``: largest drift of a member from its expected time;
    ``max_missing_members``: members of ``first_carbon``-``last_carbon`` (by ``step``)
    that may be absent; ``history_rt_window_s``: largest shift of a member from the mean
    of the ``history_points`` latest passing ladders of the QA history (None: recorded,
    not judged); ``min_resolution``, ``max_tailing_factor``, ``min_plate_count``,
    ``min_signal_to_noise``: the least resolved consecutive pair, the worst-tailing, the
    least efficient and the weakest member (None: recorded, not judged).
    """

    series: str = "n-alkanes"
    first_carbon: int = field(default=8, metadata=_range(1, 100))
    last_carbon: int = field(default=40, metadata=_range(1, 100))
    step: int = field(default=1, metadata=_range(1, 4))
    min_members: int = field(default=5, metadata=_range(2, 100))
    ri_method: Literal["van-den-dool-kratz", "kovats"] = "van-den-dool-kratz"
    dead_time_s: float | None = field(default=None, metadata=_range(0, None))
    expected_rt_s: Mapping[str, float] = field(default_factory=dict)
    rt_window_s: float = field(default=6.0, metadata=_range(0, 600, low_open=True))
    max_age_hours: float | None = field(default=None, metadata=_range(0, None, low_open=True))
    max_missing_members: int = field(default=0, metadata=_range(0, 100))
    history_rt_window_s: float | None = field(default=None,
                                              metadata=_range(0, 600, low_open=True))
    history_points: int = field(default=5, metadata=_range(1, 1000))
    min_resolution: float | None = field(default=1.5, metadata=_range(0, 100, low_open=True))
    max_tailing_factor: float | None = field(default=2.0,
                                             metadata=_range(0, 20, low_open=True))
    min_plate_count: float | None = field(default=None, metadata=_range(0, None))
    min_signal_to_noise: float | None = field(default=10.0, metadata=_range(0, None))

    def expected_rt_by_carbon(self) -> dict[int, float]:
        """``{8: 245.1, ...}`` from the ``C8 = 245.1`` table."""
        return {int(key[1:]): value for key, value in self.expected_rt_s.items()}


@dataclass(frozen=True, slots=True)
class CheckCompound:
    """One compound of the check standard; unset limits fall back to the section's."""

    name: str
    expected_rt_s: float | None = field(default=None, metadata=_range(0, None, low_open=True))
    expected_ri: float | None = field(default=None, metadata=_range(0, 10000, low_open=True))
    rt_window_s: float | None = field(default=None, metadata=_range(0, 600, low_open=True))
    ri_window: float | None = field(default=None, metadata=_range(0, 1000, low_open=True))
    min_match_factor: int | None = field(default=None, metadata=_range(0, 999))
    min_signal_to_noise: float | None = field(default=None, metadata=_range(0, None))
    quantitation_ion: int | None = field(default=None, metadata=_range(1, 2000))
    max_tailing_factor: float | None = field(default=None, metadata=_range(0, 20, low_open=True))
    min_plate_count: float | None = field(default=None, metadata=_range(0, None))
    low_level: bool = False


@dataclass(frozen=True, slots=True)
class CriticalPair:
    """Two check-standard compounds that must be resolved (Rs >= ``min_resolution``)."""

    first: str
    second: str
    min_resolution: float = field(default=1.5, metadata=_range(0, 20, low_open=True))


@dataclass(frozen=True, slots=True)
class CheckStandardSection:
    """The check standard: its compounds, default windows and minimum MF and S/N."""

    name: str = ""
    rt_window_s: float = field(default=6.0, metadata=_range(0, 600, low_open=True))
    ri_window: float = field(default=10.0, metadata=_range(0, 1000, low_open=True))
    min_match_factor: int = field(default=800, metadata=_range(0, 999))
    min_signal_to_noise: float = field(default=10.0, metadata=_range(0, None))
    max_tailing_factor: float = field(default=2.0, metadata=_range(0, 20, low_open=True))
    min_plate_count: float | None = field(default=None, metadata=_range(0, None))
    max_age_hours: float | None = field(default=None, metadata=_range(0, None, low_open=True))
    compounds: tuple[CheckCompound, ...] = ()
    critical_pairs: tuple[CriticalPair, ...] = ()


@dataclass(frozen=True, slots=True)
class InstrumentProfile:
    """A validated instrument profile; build with :func:`load_profile` or :func:`parse_profile`.

    ``source_path`` and ``sha256`` identify the file (and its exact bytes) every QA
    result records as the one that set its limits.
    """

    identity: Identity
    tune: TuneSection
    column: Column = field(default_factory=Column)
    carrier: Carrier = field(default_factory=Carrier)
    qa: QASection = field(default_factory=QASection)
    ladder: LadderSection | None = None
    check_standard: CheckStandardSection | None = None
    schema: str = SCHEMA
    source_path: str | None = None
    sha256: str | None = None

    @property
    def id(self) -> str:
        """The instrument's ID."""
        return self.identity.id

    def tune_criteria(self) -> tuple[TuneCriteriaSet, ...]:
        """The tune criteria sets this instrument is held to, with the lab's limits."""
        return self.tune.criteria_sets()

    def reference(self) -> dict[str, str | None]:
        """What a QA result records about the profile: path, SHA-256, instrument ID."""
        return {"path": self.source_path, "sha256": self.sha256, "id": self.id}

    def summary(self) -> dict[str, Any]:
        """The facts ``gcms qa profile`` prints."""
        ident = self.identity
        return {
            "id": ident.id, "lab": ident.lab, "vendor": ident.vendor, "model": ident.model,
            "serial": ident.serial, "location": ident.location,
            "column": " ".join(x for x in (self.column.name, self.column.phase) if x),
            "tune_criteria": list(self.tune.criteria),
            "limit_overrides": {k: v.to_dict() for k, v in self.tune.limits.items()},
            "westgard_rules": list(self.qa.westgard_rules),
            "ladder": None if self.ladder is None else
            f"{self.ladder.series} C{self.ladder.first_carbon}-C{self.ladder.last_carbon}",
            "check_standard": None if self.check_standard is None else
            [c.name for c in self.check_standard.compounds],
            "path": self.source_path, "sha256": self.sha256,
        }


# ---------------------------------------------------------------------- validation
def _fail(path: str, key: str, problem: str) -> ProfileError:
    return ProfileError(f"{path}: {key}: {problem}")


def _check(profile: InstrumentProfile, path: str) -> None:
    """Cross-field checks the types alone cannot make."""
    if profile.schema != SCHEMA:
        raise _fail(path, "schema", f"must be {SCHEMA!r}, got {profile.schema!r}")
    if not profile.identity.id.strip():
        raise _fail(path, "identity.id", "must not be empty")
    tune = profile.tune
    if not tune.criteria:
        raise _fail(path, "tune.criteria", "name at least one tune criteria set")
    for i, name in enumerate(tune.criteria):
        if name not in TUNE_CRITERIA:
            raise _fail(path, f"tune.criteria[{i}]",
                        f"unknown tune criteria {name!r}{did_you_mean(name, TUNE_CRITERIA)}; "
                        f"known: {', '.join(TUNE_CRITERIA)}")
    rules = {rule.key: rule for name in tune.criteria for rule in TUNE_CRITERIA[name].rules}
    for key, override in tune.limits.items():
        where = f"tune.limits.{key}"
        if key not in rules:
            raise _fail(path, where, f"no rule {key!r} in {', '.join(tune.criteria)}"
                                     f"{did_you_mean(key, rules)}")
        rule = rules[key]
        low = rule.limit.low if override.low is None else override.low
        high = rule.limit.high if override.high is None else override.high
        if low is not None and high is not None and low > high:
            raise _fail(path, where, f"low {low:g} is above high {high:g}")
        if rule.unit == "%" and any(v is not None and not 0 <= v <= 1000
                                    for v in (override.low, override.high)):
            raise _fail(path, where, "percent limits must lie in 0-1000")
        if rule.kind == "mass" and any(v is not None and abs(v - rule.mz) > 0.5
                                       for v in (override.low, override.high)):
            raise _fail(path, where, f"mass limits must lie within {rule.mz} ± 0.5 u")
        if rule.kind == "width" and any(v is not None and not 0 < v <= 5
                                        for v in (override.low, override.high)):
            raise _fail(path, where, "peak-width limits must lie in (0, 5] u")
    for i, rule in enumerate(profile.qa.westgard_rules):
        if rule not in WESTGARD_RULES:
            raise _fail(path, f"qa.westgard_rules[{i}]",
                        f"unknown rule {rule!r}; known: {', '.join(WESTGARD_RULES)}")
    ladder = profile.ladder
    if ladder is not None:
        from gcms.retention.series import SERIES

        if ladder.series not in SERIES:
            raise _fail(path, "ladder.series",
                        f"unknown series {ladder.series!r}; known: {', '.join(SERIES)}")
        if ladder.first_carbon > ladder.last_carbon:
            raise _fail(path, "ladder.first_carbon",
                        f"C{ladder.first_carbon} is after last_carbon C{ladder.last_carbon}")
        if ladder.ri_method == "kovats" and ladder.dead_time_s is None:
            raise _fail(path, "ladder.dead_time_s", "Kovats indices need a dead time")
        previous = None
        for key, rt in sorted(ladder.expected_rt_s.items(),
                              key=lambda kv: int(kv[0][1:]) if re.fullmatch(r"C\d+", kv[0])
                              else -1):
            if not re.fullmatch(r"C\d+", key):
                raise _fail(path, f"ladder.expected_rt_s.{key}",
                            "keys are carbon numbers written C8, C9, ...")
            if not ladder.first_carbon <= int(key[1:]) <= ladder.last_carbon:
                raise _fail(path, f"ladder.expected_rt_s.{key}",
                            f"outside C{ladder.first_carbon}-C{ladder.last_carbon}")
            if rt <= 0 or (previous is not None and rt <= previous):
                raise _fail(path, f"ladder.expected_rt_s.{key}",
                            "expected times must be > 0 and increase with carbon number")
            previous = rt
    check = profile.check_standard
    if check is not None:
        names = [c.name for c in check.compounds]
        for i, compound in enumerate(check.compounds):
            if compound.expected_rt_s is None and compound.expected_ri is None:
                raise _fail(path, f"check_standard.compounds[{i}]",
                            f"{compound.name!r} needs expected_rt_s or expected_ri")
            if names.count(compound.name) > 1:
                raise _fail(path, f"check_standard.compounds[{i}].name",
                            f"{compound.name!r} appears more than once")
        for i, pair in enumerate(check.critical_pairs):
            for side in ("first", "second"):
                if getattr(pair, side) not in names:
                    raise _fail(path, f"check_standard.critical_pairs[{i}].{side}",
                                f"{getattr(pair, side)!r} is not a check-standard compound")


def parse_profile(data: bytes | str, *, source: str = "<profile>") -> InstrumentProfile:
    """Validate TOML text (or bytes) as an instrument profile.

    Raises
    ------
    ProfileError
        Not TOML, or not a valid profile; the message names ``source`` and the key.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _profile(parse_toml(raw, source=source, error=ProfileError))


def _profile(document: Document) -> InstrumentProfile:
    """The checked profile of a read document, recording its source and SHA-256."""
    source = document.source
    profile = from_table(InstrumentProfile, document.data, origin=source,
                         error=ProfileError, exclude=("source_path", "sha256"))
    _check(profile, source)
    object.__setattr__(profile, "source_path", source)
    object.__setattr__(profile, "sha256", document.sha256)
    return profile


def _search_dirs() -> list[Path]:
    return list(search_path("instruments"))


def available_profiles() -> list[tuple[str, Path]]:
    """``(name, path)`` of every profile file in the search folders, first found first."""
    seen: dict[str, Path] = {}
    for folder in _search_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen.setdefault(path.stem, path)
    return list(seen.items())


def find_profile(path_or_name: str | os.PathLike) -> InstrumentProfile | None:
    """The profile at a path or found by name (see module notes); None when none matches.

    Raises
    ------
    ProfileError
        A profile matched but is invalid.
    """
    path = Path(path_or_name)
    if path.is_file():
        return _load_file(path)
    name = str(path_or_name)
    candidates = available_profiles()
    for stem, candidate in candidates:
        if stem == name or stem == name.removesuffix(".toml"):
            return _load_file(candidate)
    for _, candidate in candidates:
        try:
            profile = _load_file(candidate)
        except ProfileError:
            continue  # a broken profile elsewhere must not hide the one asked for
        if profile.id == name:
            return profile
    return None


def load_profile(path_or_name: str | os.PathLike) -> InstrumentProfile:
    """Load and validate the profile at a path, or the one a name finds (see module notes).

    Raises
    ------
    ProfileError
        No such profile (the message lists where it looked and what it found), or an
        invalid one.
    """
    profile = find_profile(path_or_name)
    if profile is None:
        where = ", ".join(str(d) for d in _search_dirs())
        known = ", ".join(stem for stem, _ in available_profiles()) or "none"
        raise ProfileError(f"{path_or_name}: no such instrument profile (looked in {where}; "
                           f"found: {known})")
    return profile


def _load_file(path: Path) -> InstrumentProfile:
    return _profile(read_toml(path, error=ProfileError))
