"""Identification criteria profiles (TOML): what a component must show to be "identified".

A profile states, in numbers a reviewer can check, the rules of one identification
scheme. Three ship with gcms (``gcms/identify/profiles``):

``swgdrug-gcms`` (the default)
    GC-MS counted as two techniques only when both its results are used (SWGDRUG
    Recommendations 8.1, IIIB): a spectrum match AND retention evidence, against a
    reference standard of the same sequence or, failing that, a library retention index
    through the sequence's alkane ladder; diagnostic ions present; ion ratios against the
    standard where one was run; a clean blank before the exhibit.
``enfsi-dwg``
    Reference standard of the same sequence required (ΔRT, ±2 %, the agencies' common
    window) and ion ratios within the EU 2002/657/EC GC-EI table.
``screening``
    Triage: spectrum and diagnostic ions; retention and blank evaluated and reported but
    not required. Not an identification in the SWGDRUG sense.

Schema (every key optional except ``profile.name``; unknown keys are refused)::

    [profile]    name, title, basis
    [spectrum]   min_match_factor, min_reverse_match_factor, not_identified_below,
                 close_match_factor, unresolved_runner_up ("inconclusive" | "note")
    [retention]  required, sources (["standard", "index"] in order of preference),
                 rt_tolerance_s, rt_tolerance_percent, rt_window ("larger" | "smaller"),
                 ri_tolerance, allow_extrapolated_ri, contradiction_factor
    [ions]       required, diagnostic_ions, diagnostic_min_relative, ratios_required,
                 ratio_tolerance ("eu-2002-657" | "off" | a number, % relative),
                 ratio_bands ([[above %, tolerance %], ...] highest band first)
    [signal]     min_snr
    [blank]      required, after_analyte_required, max_carryover_percent,
                 carryover_from ("any-level" | "higher-level")
    [library]    accepted_sha256 (library identities the method accepts)
    [scope]      targets (target-list names or paths), out_of_scope ("separate" | "omit"),
                 targeted_search

Profiles are found by name among the shipped ones, or read from any path.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gcms.config import from_table, limits, parse_toml, read_toml, search_path
from gcms.errors import CriteriaError
from gcms.identify.targets import TargetList, load_targets

__all__ = [
    "DEFAULT_PROFILE",
    "EU_2002_657_GC_EI_BANDS",
    "BlankRules",
    "Criteria",
    "IonRules",
    "RetentionRules",
    "ScopeRules",
    "SignalRules",
    "SpectrumRules",
    "available_profiles",
    "load_criteria",
    "parse_criteria",
]

#: The profile used when none is named.
DEFAULT_PROFILE = "swgdrug-gcms"

#: Commission Decision 2002/657/EC, Table 4, GC-EI: maximum permitted tolerance of a
#: relative ion intensity (percent of the base peak), relative to the reference value:
#: above 50 %: ±10 %; above 20 to 50 %: ±15 %; above 10 to 20 %: ±20 %; up to 10 %: ±50 %.
#: Rows are (lower bound of the band, exclusive, in % of base; tolerance in % relative).
EU_2002_657_GC_EI_BANDS: tuple[tuple[float, float], ...] = (
    (50.0, 10.0), (20.0, 15.0), (10.0, 20.0), (0.0, 50.0),
)

RetentionSource = Literal["standard", "index"]
Unresolved = Literal["inconclusive", "note"]


# --------------------------------------------------------------------------- validation
# The generic checks (unknown keys with "did you mean", types, ranges, missing keys) are
# gcms.config.from_table's; the converters below are those of keys with rules of their own.
def _fail(origin: str, key: str, problem: str) -> CriteriaError:
    return CriteriaError(f"{origin}: {key}: {problem}")


def _number(origin: str, key: str, value: Any, *, low: float | None = None,
            high: float | None = None, strict_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(origin, key, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(origin, key, f"must be finite, got {value!r}")
    if low is not None and (number <= low if strict_low else number < low):
        raise _fail(origin, key, f"must be {'>' if strict_low else '>='} {low:g}, got {value!r}")
    if high is not None and number > high:
        raise _fail(origin, key, f"must be <= {high:g}, got {value!r}")
    return number


def _choice(origin: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(origin, key, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _sources(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(origin, key, f"must be a non-empty list of 'standard' and/or "
                                 f"'index', got {value!r}")
    items = tuple(_choice(origin, key, v, ("standard", "index")) for v in value)
    if len(set(items)) != len(items):
        raise _fail(origin, key, f"lists a source twice: {value!r}")
    return items


def _digests(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
            isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{64}", v) for v in value):
        raise _fail(origin, key, f"must be a list of SHA-256 digests (64 hex digits), "
                                 f"got {value!r}")
    return tuple(v.lower() for v in value)


def _target_names(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                              for v in value):
        raise _fail(origin, key, f"must be a list of target-list names or paths, "
                                 f"got {value!r}")
    return tuple(v.strip() for v in value)


def _bands(origin: str, key: str, value: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or not value:
        raise _fail(origin, key, f"must be a list of [above %, tolerance %] pairs, got {value!r}")
    bands = []
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != 2:
            raise _fail(origin, f"{key}[{i}]", f"must be [above %, tolerance %], got {row!r}")
        bands.append((_number(origin, f"{key}[{i}][0]", row[0], low=0, high=100),
                      _number(origin, f"{key}[{i}][1]", row[1], low=0, strict_low=True)))
    lows = [b[0] for b in bands]
    if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows):
        raise _fail(origin, key, "bands must be listed from the highest lower bound down")
    if lows[-1] != 0:
        raise _fail(origin, key, "the last band must start at 0 (it covers the weakest ions)")
    return tuple(bands)


@dataclass(frozen=True, slots=True)
class SpectrumRules:
    """Spectrum match against the library (NIST MS Search scale, 0-999).

    ``min_match_factor`` / ``min_reverse_match_factor``: least identity and reverse MF
    for "identified" (common automated cut-offs: 800/800; NIST reading guide: above 900
    excellent, 800-900 good). Below ``not_identified_below`` the spectrum does not match
    and the verdict is "not identified"; between the two it is "inconclusive".
    ``close_match_factor``: a hit of a *different* compound this many MF units or less
    below the chosen one is a runner-up the spectrum cannot exclude; it must be excluded
    by retention evidence, else ``unresolved_runner_up`` decides ("inconclusive" or
    only a "note").
    """

    min_match_factor: float = field(default=800.0, metadata=limits(0, 999))
    min_reverse_match_factor: float = field(default=800.0, metadata=limits(0, 999))
    not_identified_below: float = field(default=700.0, metadata=limits(0, 999))
    close_match_factor: float = field(default=20.0, metadata=limits(0, 999))
    unresolved_runner_up: Unresolved = "inconclusive"


@dataclass(frozen=True, slots=True)
class RetentionRules:
    """Retention evidence: ΔRT against a standard of the sequence, ΔRI against the library.

    ``sources`` lists the evidence that may decide, in order of preference: the first
    one that can be evaluated decides and the others are reported as supporting.
    ``required``: without deciding retention evidence the verdict is at best
    "inconclusive" (SWGDRUG: GC-MS is two techniques only when both are used).
    The RT window is ``rt_tolerance_s`` and/or ``rt_tolerance_percent`` of the
    standard's RT; with both, ``rt_window`` says whether the larger or the smaller
    applies. ``ri_tolerance`` is in index units (cross-lab reproducibility of drugs on
    5 %-phenyl columns about 10; library vs measured optimum about 20). An RI
    extrapolated outside the ladder counts only with ``allow_extrapolated_ri``. A
    deviation beyond ``contradiction_factor`` times the tolerance shows a different
    compound: "not identified" rather than "inconclusive".
    """

    required: bool = True
    sources: tuple[RetentionSource, ...] = field(default=("standard", "index"),
                                                 metadata={"convert": _sources})
    rt_tolerance_s: float | None = field(default=2.0, metadata=limits(0, None, low_open=True))
    rt_tolerance_percent: float | None = field(default=1.0,
                                               metadata=limits(0, 100, low_open=True))
    rt_window: Literal["larger", "smaller"] = "larger"
    ri_tolerance: float = field(default=20.0, metadata=limits(0, None, low_open=True))
    allow_extrapolated_ri: bool = False
    contradiction_factor: float = field(default=3.0, metadata=limits(1, None))

    def rt_tolerance(self, reference_rt_s: float) -> float:
        """The ΔRT window (s) around a reference retention time."""
        parts = [v for v in (self.rt_tolerance_s,
                             None if self.rt_tolerance_percent is None
                             else self.rt_tolerance_percent / 100.0 * abs(reference_rt_s))
                 if v is not None]
        return max(parts) if self.rt_window == "larger" else min(parts)


@dataclass(frozen=True, slots=True)
class IonRules:
    """Diagnostic ions and ion ratios (FBI Laboratory guidelines; EU 2002/657/EC).

    The diagnostic ions are the ``diagnostic_ions`` most abundant ions of the library
    spectrum of at least ``diagnostic_min_relative`` % of its base peak and inside the
    scanned m/z range; all must be in the component's spectrum. Their abundances
    relative to the strongest of them are compared with those of the standard run in
    the same sequence within ``ratio_tolerance``: a banded table
    (``"eu-2002-657"`` or ``ratio_bands``), one relative tolerance for all (a number,
    %), or ``"off"``. Ion ratios need a standard run under the same conditions; with
    ``ratios_required`` their absence leaves the verdict "inconclusive".
    """

    required: bool = True
    diagnostic_ions: int = field(default=3, metadata=limits(1, None))
    diagnostic_min_relative: float = field(default=10.0, metadata=limits(0, 100))
    ratios_required: bool = False
    ratio_tolerance: Literal["eu-2002-657", "off"] | float = field(
        default="eu-2002-657", metadata=limits(0, None, low_open=True))
    ratio_bands: tuple[tuple[float, float], ...] = field(default=EU_2002_657_GC_EI_BANDS,
                                                         metadata={"convert": _bands})

    def ratio_tolerance_percent(self, reference_relative: float) -> float | None:
        """Allowed relative deviation (%) of an ion of the given reference abundance (% of base)."""
        if self.ratio_tolerance == "off":
            return None
        if not isinstance(self.ratio_tolerance, str):
            return float(self.ratio_tolerance)
        for lower, tolerance in self.ratio_bands:
            if reference_relative > lower:
                return tolerance
        return self.ratio_bands[-1][1]


@dataclass(frozen=True, slots=True)
class SignalRules:
    """Least signal-to-noise ratio on the substance's own ions (LOD 3, LOQ 10).

    Measured on the quantifier ion (the strongest of the substance's diagnostic ions in
    the component) in the run's raw scans, never on a deconvolution model ion that the
    substance's spectrum does not name. Below ``min_snr`` the component is under the
    method's reporting limit: "not identified", never "indicated".
    """

    min_snr: float = field(default=10.0, metadata=limits(0, None))


CarryoverFrom = Literal["any-level", "higher-level"]


@dataclass(frozen=True, slots=True)
class BlankRules:
    """A blank that follows the last run holding the analyte must be free of it.

    The blank that counts is the last blank injected after the last run holding the
    analyte and before the exhibit (:data:`gcms.identify.evidence.CARRYOVER_RULE`);
    ``carryover_from`` says which runs hold it: ``"any-level"`` (every run where the
    analyte was found or that a standard row names) or ``"higher-level"`` (only those at
    a response at least the exhibit's). "Free" means not detected, or detected at most
    at ``max_carryover_percent`` of the exhibit's response on the same ion (so that
    carry-over cannot account for the finding). ``required``: without a blank before the
    exhibit the verdict is at best "inconclusive". ``after_analyte_required``: the same
    when the only blanks precede runs holding the analyte (carry-over "not evaluated");
    when false that criterion is still reported "not evaluated", with the runs it looked
    at and any carry-over risk, but it does not hold the verdict back (a lab whose method
    validation bounds carry-over below its reporting limit, the carry-over study of
    ANSI/ASB Standard 036, may choose this).
    """

    required: bool = True
    max_carryover_percent: float = field(default=10.0, metadata=limits(0, 100))
    carryover_from: CarryoverFrom = "any-level"
    after_analyte_required: bool = True


OutOfScope = Literal["separate", "omit"]


@dataclass(frozen=True, slots=True)
class ScopeRules:
    """The method's scope: the target lists its conclusion speaks of.

    ``targets``: shipped target-list names or TOML paths (relative to the profile),
    merged in order (:func:`gcms.identify.targets.load_targets`); empty means no list:
    every substance is in scope. Findings of substances outside the lists are reported
    in a separate, labelled note (``out_of_scope = "separate"``: "other compounds
    indicated, not confirmed and outside the scope of the method") or left out
    (``"omit"``, the note then only counts them). ``targeted_search``: every component is
    also scored against the targets' library entries within their RT/RI windows, so a
    target outside the ten best hits of the full library is still judged.
    """

    targets: tuple[str, ...] = field(default=(), metadata={"convert": _target_names})
    out_of_scope: OutOfScope = "separate"
    targeted_search: bool = True


@dataclass(frozen=True, slots=True)
class LibraryRules:
    """The reference libraries the method accepts (ISO/IEC 17025:2017 §6.4 / §7.2.2).

    ``accepted_sha256``: library identities (:meth:`gcms.library.Library.identity_sha256`:
    content, title and source files; ``gcms library info`` prints it). When given, a
    batch with any other library is refused before any run is processed, and ``gcms
    custody verify --libraries PROFILE`` checks the recorded analyses against the same
    list. Empty: any library (the identity is still recorded).
    """

    accepted_sha256: tuple[str, ...] = field(default=(), metadata={"convert": _digests})


@dataclass(frozen=True, slots=True)
class Criteria:
    """A validated identification criteria profile (see the module docstring).

    ``target_list`` holds the lists ``scope.targets`` names, read (and hashed) when the
    profile was loaded.
    """

    name: str
    title: str = ""
    basis: str = ""
    spectrum: SpectrumRules = field(default_factory=SpectrumRules)
    retention: RetentionRules = field(default_factory=RetentionRules)
    ions: IonRules = field(default_factory=IonRules)
    signal: SignalRules = field(default_factory=SignalRules)
    blank: BlankRules = field(default_factory=BlankRules)
    scope: ScopeRules = field(default_factory=ScopeRules)
    library: LibraryRules = field(default_factory=LibraryRules)
    source: str | None = None
    sha256: str | None = None
    target_list: TargetList | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: every rule with its value, the file it came from and its SHA-256.

        The target lists appear under ``scope.target_list``: each file with its SHA-256.
        """
        out = {f.name: dataclasses.asdict(getattr(self, f.name))
               if dataclasses.is_dataclass(getattr(self, f.name)) else getattr(self, f.name)
               for f in dataclasses.fields(self) if f.name != "target_list"}
        out["retention"]["sources"] = list(self.retention.sources)
        out["ions"]["ratio_bands"] = [list(b) for b in self.ions.ratio_bands]
        out["scope"]["targets"] = list(self.scope.targets)
        out["library"]["accepted_sha256"] = list(self.library.accepted_sha256)
        out["scope"]["target_list"] = (self.target_list.to_dict()
                                       if self.target_list is not None else None)
        return out


@dataclass(frozen=True, slots=True)
class _Header:
    """The ``[profile]`` table."""

    name: str
    title: str = ""
    basis: str = ""


@dataclass(frozen=True, slots=True)
class _CriteriaFile:
    """A criteria profile's tables, as :func:`gcms.config.from_table` checks them."""

    profile: _Header
    spectrum: SpectrumRules = field(default_factory=SpectrumRules)
    retention: RetentionRules = field(default_factory=RetentionRules)
    ions: IonRules = field(default_factory=IonRules)
    signal: SignalRules = field(default_factory=SignalRules)
    blank: BlankRules = field(default_factory=BlankRules)
    scope: ScopeRules = field(default_factory=ScopeRules)
    library: LibraryRules = field(default_factory=LibraryRules)


def parse_criteria(data: Mapping[str, Any], *, origin: str = "criteria",
                   sha256: str | None = None,
                   relative_to: str | os.PathLike | None = None) -> Criteria:
    """Validate a parsed TOML table and build :class:`Criteria`.

    The target lists of ``[scope] targets`` are read too (paths relative to
    ``relative_to``, the profile's folder).

    Parameters
    ----------
    data : Mapping
        The profile as parsed TOML.
    origin : str, default "criteria"
        How errors name the profile (its file).
    sha256 : str, optional
        The SHA-256 of the file's bytes, recorded in the result.
    relative_to : str or os.PathLike, optional
        The folder that relative target-list paths are read from.

    Returns
    -------
    Criteria
        The validated criteria.

    Raises
    ------
    CriteriaError
        Naming ``origin`` and the key: unknown keys (with "did you mean"), wrong types,
        values out of range, inconsistent limits.
    """
    if not isinstance(data.get("profile"), Mapping):
        raise _fail(origin, "[profile]", "missing: a profile needs [profile] name = \"...\"")
    parsed = from_table(_CriteriaFile, data, origin=origin, error=CriteriaError)
    name = parsed.profile.name.strip()
    if not name:
        raise _fail(origin, "profile.name", "missing or empty")
    sections = {f.name: getattr(parsed, f.name) for f in dataclasses.fields(parsed)
                if f.name != "profile"}
    scope = parsed.scope
    target_list = (load_targets(scope.targets, relative_to=relative_to)
                   if scope.targets else None)
    criteria = Criteria(name=name, title=parsed.profile.title, basis=parsed.profile.basis,
                        source=origin, sha256=sha256, target_list=target_list, **sections)
    spectrum = criteria.spectrum
    if spectrum.not_identified_below > spectrum.min_match_factor:
        raise _fail(origin, "spectrum.not_identified_below",
                    f"{spectrum.not_identified_below:g} is above spectrum.min_match_factor "
                    f"{spectrum.min_match_factor:g}")
    retention = criteria.retention
    if retention.rt_tolerance_s is None and retention.rt_tolerance_percent is None:
        raise _fail(origin, "retention", "needs rt_tolerance_s or rt_tolerance_percent")
    return criteria


def _shipped() -> dict[str, Path]:
    (folder,) = search_path("criteria")
    return {path.stem: path for path in sorted(folder.glob("*.toml"))}


def available_profiles() -> tuple[str, ...]:
    """Names of the criteria profiles shipped with gcms.

    Returns
    -------
    tuple of str
        The names :func:`load_criteria` accepts, sorted.

    Examples
    --------
    >>> from gcms.identify import available_profiles
    >>> available_profiles()
    ('enfsi-dwg', 'screening', 'swgdrug-gcms')
    """
    return tuple(sorted(_shipped()))


def load_criteria(profile: str | os.PathLike | None = None) -> Criteria:
    """Load a criteria profile by shipped name (``"swgdrug-gcms"``) or from a TOML path.

    ``None`` gives :data:`DEFAULT_PROFILE`. The result records the file and the SHA-256
    of its bytes.

    Parameters
    ----------
    profile : str or os.PathLike, optional
        A shipped name (:func:`available_profiles`) or the path of a lab's TOML copy.

    Returns
    -------
    Criteria
        The validated limits of every criterion, with ``source`` and ``sha256``.

    Raises
    ------
    CriteriaError
        Unknown name, unreadable file, invalid TOML or an invalid key (named).

    Examples
    --------
    >>> from gcms.identify import load_criteria
    >>> criteria = load_criteria()
    >>> criteria.name, criteria.spectrum.not_identified_below
    ('swgdrug-gcms', 700.0)
    """
    profile = DEFAULT_PROFILE if profile is None else profile
    shipped = _shipped()
    if isinstance(profile, str) and profile in shipped:
        document = parse_toml(shipped[profile].read_bytes(),
                              source=f"{profile} (shipped profile)", error=CriteriaError)
    else:
        if not Path(profile).is_file():
            raise CriteriaError(f"{profile}: no such criteria profile (shipped: "
                                f"{', '.join(sorted(shipped))}; or give a .toml path)")
        document = read_toml(profile, error=CriteriaError)
    return parse_criteria(document.data, origin=document.source, sha256=document.sha256,
                          relative_to=document.folder)
