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
import difflib
import hashlib
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from gcms.errors import CriteriaError
from gcms.identify.targets import TargetList, load_targets

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

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

    min_match_factor: float = 800.0
    min_reverse_match_factor: float = 800.0
    not_identified_below: float = 700.0
    close_match_factor: float = 20.0
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
    sources: tuple[RetentionSource, ...] = ("standard", "index")
    rt_tolerance_s: float | None = 2.0
    rt_tolerance_percent: float | None = 1.0
    rt_window: Literal["larger", "smaller"] = "larger"
    ri_tolerance: float = 20.0
    allow_extrapolated_ri: bool = False
    contradiction_factor: float = 3.0

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
    diagnostic_ions: int = 3
    diagnostic_min_relative: float = 10.0
    ratios_required: bool = False
    ratio_tolerance: str | float = "eu-2002-657"
    ratio_bands: tuple[tuple[float, float], ...] = EU_2002_657_GC_EI_BANDS

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

    min_snr: float = 10.0


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
    max_carryover_percent: float = 10.0
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

    targets: tuple[str, ...] = ()
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

    accepted_sha256: tuple[str, ...] = ()


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


# --------------------------------------------------------------------------- validation
_SECTIONS: dict[str, type] = {
    "spectrum": SpectrumRules, "retention": RetentionRules, "ions": IonRules,
    "signal": SignalRules, "blank": BlankRules, "scope": ScopeRules,
    "library": LibraryRules,
}
_PROFILE_KEYS = ("name", "title", "basis")


def _fail(origin: str, key: str, problem: str) -> CriteriaError:
    return CriteriaError(f"{origin}: {key}: {problem}")


def _unknown(origin: str, where: str, key: str, known: tuple[str, ...]) -> CriteriaError:
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    return _fail(origin, f"{where}{key}", f"unknown key{suggestion}; known: {', '.join(known)}")


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


def _bool(origin: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(origin, key, f"must be true or false, got {value!r}")
    return value


def _choice(origin: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(origin, key, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _section(origin: str, name: str, table: Any) -> dict[str, Any]:
    """Checked keyword arguments of one section's dataclass."""
    if not isinstance(table, Mapping):
        raise _fail(origin, f"[{name}]", f"must be a table, got {table!r}")
    known = tuple(f.name for f in dataclasses.fields(_SECTIONS[name]))
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown(origin, f"{name}.", key, known)
        full = f"{name}.{key}"
        out[key] = _value(origin, name, key, full, value)
    return out


def _value(origin: str, section: str, key: str, full: str, value: Any) -> Any:  # noqa: C901
    if key == "accepted_sha256":
        if not isinstance(value, list) or not all(
                isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{64}", v) for v in value):
            raise _fail(origin, full, f"must be a list of SHA-256 digests (64 hex digits), "
                                      f"got {value!r}")
        return tuple(v.lower() for v in value)
    if key == "targets":
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise _fail(origin, full, f"must be a list of target-list names or paths, "
                                      f"got {value!r}")
        return tuple(v.strip() for v in value)
    if key == "out_of_scope":
        return _choice(origin, full, value, ("separate", "omit"))
    if key in ("required", "allow_extrapolated_ri", "ratios_required", "targeted_search",
               "after_analyte_required"):
        return _bool(origin, full, value)
    if key in ("min_match_factor", "min_reverse_match_factor", "not_identified_below"):
        return _number(origin, full, value, low=0, high=999)
    if key == "close_match_factor":
        return _number(origin, full, value, low=0, high=999)
    if key == "unresolved_runner_up":
        return _choice(origin, full, value, ("inconclusive", "note"))
    if key == "sources":
        if not isinstance(value, list) or not value:
            raise _fail(origin, full, f"must be a non-empty list of 'standard' and/or "
                                      f"'index', got {value!r}")
        items = tuple(_choice(origin, full, v, ("standard", "index")) for v in value)
        if len(set(items)) != len(items):
            raise _fail(origin, full, f"lists a source twice: {value!r}")
        return items
    if key in ("rt_tolerance_s", "rt_tolerance_percent"):
        return _number(origin, full, value, low=0, strict_low=True,
                       high=100 if key == "rt_tolerance_percent" else None)
    if key == "rt_window":
        return _choice(origin, full, value, ("larger", "smaller"))
    if key == "ri_tolerance":
        return _number(origin, full, value, low=0, strict_low=True)
    if key == "contradiction_factor":
        return _number(origin, full, value, low=1)
    if key == "diagnostic_ions":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(origin, full, f"must be a whole number >= 1, got {value!r}")
        return value
    if key in ("diagnostic_min_relative", "max_carryover_percent"):
        return _number(origin, full, value, low=0, high=100)
    if key == "ratio_tolerance":
        if isinstance(value, str):
            return _choice(origin, full, value, ("eu-2002-657", "off"))
        return _number(origin, full, value, low=0, strict_low=True)
    if key == "ratio_bands":
        return _bands(origin, full, value)
    if key == "carryover_from":
        return _choice(origin, full, value, ("any-level", "higher-level"))
    if key == "min_snr":
        return _number(origin, full, value, low=0)
    raise _fail(origin, full, "no validator (internal)")  # pragma: no cover


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


def parse_criteria(data: Mapping[str, Any], *, origin: str = "criteria",
                   sha256: str | None = None,
                   relative_to: str | os.PathLike | None = None) -> Criteria:
    """Validate a parsed TOML table and build :class:`Criteria`.

    The target lists of ``[scope] targets`` are read too (paths relative to
    ``relative_to``, the profile's folder).

    Raises
    ------
    CriteriaError
        Naming ``origin`` and the key: unknown keys (with "did you mean"), wrong types,
        values out of range, inconsistent limits.
    """
    known_top = ("profile", *_SECTIONS)
    for key in data:
        if key not in known_top:
            raise _unknown(origin, "", key, known_top)
    header = data.get("profile")
    if not isinstance(header, Mapping):
        raise _fail(origin, "[profile]", "missing: a profile needs [profile] name = \"...\"")
    for key, value in header.items():
        if key not in _PROFILE_KEYS:
            raise _unknown(origin, "profile.", key, _PROFILE_KEYS)
        if not isinstance(value, str):
            raise _fail(origin, f"profile.{key}", f"must be a string, got {value!r}")
    name = str(header.get("name", "")).strip()
    if not name:
        raise _fail(origin, "profile.name", "missing or empty")
    sections = {key: _SECTIONS[key](**_section(origin, key, data[key]))
                for key in _SECTIONS if key in data}
    scope = sections.get("scope")
    target_list = (load_targets(scope.targets, relative_to=relative_to)
                   if scope is not None and scope.targets else None)
    criteria = Criteria(name=name, title=header.get("title", ""), basis=header.get("basis", ""),
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


def _shipped() -> dict[str, Any]:
    folder = resources.files("gcms.identify") / "profiles"
    return {entry.name[:-5]: entry for entry in folder.iterdir() if entry.name.endswith(".toml")}


def available_profiles() -> tuple[str, ...]:
    """Names of the criteria profiles shipped with gcms."""
    return tuple(sorted(_shipped()))


def load_criteria(profile: str | os.PathLike | None = None) -> Criteria:
    """Load a criteria profile by shipped name (``"swgdrug-gcms"``) or from a TOML path.

    ``None`` gives :data:`DEFAULT_PROFILE`. The result records the file and its SHA-256.

    Raises
    ------
    CriteriaError
        Unknown name, unreadable file, invalid TOML or an invalid key (named).
    """
    profile = DEFAULT_PROFILE if profile is None else profile
    shipped = _shipped()
    folder = None
    if isinstance(profile, str) and profile in shipped:
        raw = shipped[profile].read_bytes()
        origin = f"{profile} (shipped profile)"
    else:
        path = Path(profile)
        if not path.is_file():
            raise CriteriaError(f"{profile}: no such criteria profile (shipped: "
                                f"{', '.join(sorted(shipped))}; or give a .toml path)")
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise CriteriaError(f"{path}: cannot read: {error.strerror or error}") from error
        origin = str(path)
        folder = path.parent
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CriteriaError(f"{origin}: not UTF-8 text ({error})") from error
    except tomllib.TOMLDecodeError as error:
        raise CriteriaError(f"{origin}: invalid TOML: {error}") from error
    return parse_criteria(data, origin=origin, sha256=hashlib.sha256(raw).hexdigest(),
                          relative_to=folder)
