"""Quantitation methods (TOML): analytes, internal standards, models and acceptance limits.

A method is what a laboratory validates once and then applies to every sequence: per
analyte the quantifier and qualifier ions, the retention window, the internal standard,
the calibration model and its weighting; for the whole method the integration rule and
the acceptance limits. It is validated on load: an unknown key, a value of the wrong
type or out of range raises :class:`gcms.errors.ProfileError` naming the file and the
key (``analyte[0].weighting``). The schema::

    schema = "gcms-quant-method/1"

    [method]       name (required), version, description, unit (concentration unit of
                   standards and results, default "ug/mL"), saturation_counts (detector
                   or encoding ceiling, counts; unset = plateau rule only)
    [integration]  see IntegrationSettings (the rule of gcms.quantitation.integration)
    [acceptance]   see Acceptance (calibration, check standards, ion ratios, LOQ basis)
    [[internal_standard]]  id, name, quantifier_mz, qualifier_mz, rt_s, rt_window_s,
                   mz_tolerance, note
    [[analyte]]    name, aliases, cas, formula, inchikey, signal ("ion" | "tic"),
                   quantifier_mz, qualifier_mz, rt_s, rt_window_s, rt_tolerance_s,
                   mz_tolerance, internal_standard (an id, or "" for external
                   calibration), model, weighting, note

Ions are nominal m/z; ``mz_tolerance`` (default 0.5) is the half-width of the
extracted-ion window.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gcms.config import from_table, read_toml, search_path
from gcms.config import limits as _limits
from gcms.errors import GcmsError, ProfileError
from gcms.quantitation.units import concentration_factor

__all__ = [
    "SCHEMA",
    "Acceptance",
    "Analyte",
    "IntegrationSettings",
    "InternalStandard",
    "QuantMethod",
    "find_method",
    "load_method",
    "parse_method",
]

#: The schema this module reads (``schema = ...`` at the top of a method file).
SCHEMA = "gcms-quant-method/1"

Model = Literal["linear", "linear_through_zero", "quadratic"]
Weighting = Literal["none", "1/x", "1/x2"]
IonRatioRule = Literal["relative", "eu-2002-657-ei"]
LoqBasis = Literal["lowest_calibrator", "calibration", "blanks"]
PeakSelection = Literal["largest", "closest"]


@dataclass(frozen=True, slots=True)
class IntegrationSettings:
    """The integration rule's knobs (see :mod:`gcms.quantitation.integration`).

    Attributes
    ----------
    smoothing_scans : int
        Width of the centred moving average used to find the apex and the limits (odd;
        1 = none). Areas and heights are always taken on the raw trace.
    end_fraction : float
        A limit is placed where the smoothed trace falls to this fraction of the peak
        height above the local background (0.01 = 1 %) ...
    noise_multiple : float
        ... or to this many noise σ above it, whichever level is higher.
    valley_rise_fraction : float
        A valley ends the peak when the trace rises again by more than this fraction of
        the height (or ``noise_multiple`` σ, whichever is higher) past its lowest point.
    max_half_width_s : float
        No limit further than this from the apex (s): a drifting baseline cannot make a
        peak endless.
    min_snr : float
        Detection: smoothed apex height above background over the noise σ.
    min_scans : int
        Detection: fewest scans between the limits.
    saturation_plateau_scans : int
        A flat top of this many consecutive scans at the apex value is saturation.
    saturation_plateau_tolerance : float
        Relative spread allowed within the flat top (clipped detectors repeat one value).
    peak_selection : "largest" | "closest"
        Which maximum in the retention window is the peak.
    """

    smoothing_scans: int = field(default=3, metadata=_limits(1, 51))
    end_fraction: float = field(default=0.01, metadata=_limits(0, 0.5, low_open=True))
    noise_multiple: float = field(default=3.0, metadata=_limits(0, 100))
    valley_rise_fraction: float = field(default=0.05, metadata=_limits(0, 1, low_open=True))
    max_half_width_s: float = field(default=30.0, metadata=_limits(0, 600, low_open=True))
    min_snr: float = field(default=3.0, metadata=_limits(0, None, low_open=True))
    min_scans: int = field(default=3, metadata=_limits(1, None))
    saturation_plateau_scans: int = field(default=3, metadata=_limits(2, None))
    saturation_plateau_tolerance: float = field(default=1e-3, metadata=_limits(0, 0.05))
    peak_selection: PeakSelection = "largest"

    def __post_init__(self) -> None:
        if self.smoothing_scans % 2 == 0:
            raise ValueError(f"smoothing_scans must be odd, got {self.smoothing_scans}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Acceptance limits of a calibration, of check standards and of ion ratios.

    Attributes
    ----------
    min_calibrators : int
        Fewest accepted calibration levels for a usable curve (never fewer than the
        model's parameters + 2, so that a residual SD exists).
    r2_min : float
        Smallest coefficient of determination accepted.
    calibrator_tolerance_percent, lowest_calibrator_tolerance_percent : float
        Back-calculated accuracy each calibrator must meet (|x̂ - x| / x), looser at the
        lowest level (ANSI/ASB 036 and bioanalytical practice: 15 % and 20 %).
    reject_calibrators : bool
        Drop the calibrator furthest outside its tolerance and refit, up to
        ``max_rejected_calibrators`` times; otherwise only flag them.
    check_tolerance_percent : float
        A check standard passes when its result is within this of its nominal value.
    ion_ratio_rule : "relative" | "eu-2002-657-ei"
        ``relative``: each qualifier/quantifier area ratio within
        ``ion_ratio_tolerance_percent`` of the mean ratio of the sequence's calibrators;
        ``eu-2002-657-ei``: the tolerance depends on the ratio (Commission Decision
        2002/657/EC, table 5, GC-EI-MS: > 50 % ±10 %, 20-50 % ±15 %, 10-20 % ±20 %,
        ≤ 10 % ±50 %, relative).
    is_area_min_percent, is_area_max_percent : float
        A sample's internal-standard area, as a percentage of the calibrators' mean,
        must lie in this range (EPA 8270/8260 practice: 50-200 %), and its qualifier
        ratios must match theirs; otherwise the result is flagged, not reportable
        (suppression, interference, or the IS added twice or not at all).
    loq_basis : "lowest_calibrator" | "calibration" | "blanks"
        Which limit of quantitation decides "below LOQ" (all are reported):
        the lowest accepted calibrator (ANSI/ASB 036 administrative LOQ), 10·s/b from
        the calibration, or 10·s_blank/b from the sequence's blanks.
    coverage_factor : float or None
        k of the expanded uncertainty; unset: Student's t (95 %, two-sided) with the
        regression's degrees of freedom.
    """

    min_calibrators: int = field(default=5, metadata=_limits(1, None))
    r2_min: float = field(default=0.99, metadata=_limits(0, 1))
    calibrator_tolerance_percent: float = field(default=15.0, metadata=_limits(0, 100,
                                                                                low_open=True))
    lowest_calibrator_tolerance_percent: float = field(default=20.0,
                                                       metadata=_limits(0, 100, low_open=True))
    reject_calibrators: bool = True
    max_rejected_calibrators: int = field(default=1, metadata=_limits(0, None))
    check_tolerance_percent: float = field(default=20.0, metadata=_limits(0, 100,
                                                                           low_open=True))
    ion_ratio_rule: IonRatioRule = "relative"
    ion_ratio_tolerance_percent: float = field(default=20.0, metadata=_limits(0, 100,
                                                                               low_open=True))
    is_area_min_percent: float = field(default=50.0, metadata=_limits(0, 100))
    is_area_max_percent: float = field(default=200.0, metadata=_limits(100, None))
    loq_basis: LoqBasis = "lowest_calibrator"
    coverage_factor: float | None = field(default=None, metadata=_limits(0, 10,
                                                                         low_open=True))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class InternalStandard:
    """An internal standard added at the same amount to every injected solution."""

    id: str
    name: str
    quantifier_mz: float = field(metadata=_limits(1, None))
    rt_s: float = field(metadata=_limits(0, None))
    rt_window_s: float = field(default=10.0, metadata=_limits(0, None, low_open=True))
    qualifier_mz: tuple[float, ...] = ()
    mz_tolerance: float = field(default=0.5, metadata=_limits(0, 5))
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dataclasses.asdict(self)
        out["qualifier_mz"] = list(self.qualifier_mz)
        return out


@dataclass(frozen=True, slots=True)
class Analyte:
    """One substance to quantify: its ions, retention, internal standard and model."""

    name: str
    rt_s: float = field(metadata=_limits(0, None))
    quantifier_mz: float | None = field(default=None, metadata=_limits(1, None))
    qualifier_mz: tuple[float, ...] = ()
    signal: Literal["ion", "tic"] = "ion"
    rt_window_s: float = field(default=10.0, metadata=_limits(0, None, low_open=True))
    rt_tolerance_s: float = field(default=6.0, metadata=_limits(0, None))
    mz_tolerance: float = field(default=0.5, metadata=_limits(0, 5))
    internal_standard: str = ""
    model: Model = "linear"
    weighting: Weighting = "none"
    aliases: tuple[str, ...] = ()
    cas: str = ""
    formula: str = ""
    inchikey: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.signal == "ion" and self.quantifier_mz is None:
            raise ValueError("quantifier_mz is required when signal = \"ion\"")

    def matches(self, substance: str) -> bool:
        """Whether a sequence's ``reference_substance`` names this analyte."""
        wanted = substance.strip().casefold()
        return any(wanted == n.strip().casefold() for n in (self.name, *self.aliases))

    @property
    def signal_label(self) -> str:
        """``m/z 342`` or ``TIC``."""
        return "TIC" if self.signal == "tic" else f"m/z {self.quantifier_mz:g}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dataclasses.asdict(self)
        out["qualifier_mz"] = list(self.qualifier_mz)
        out["aliases"] = list(self.aliases)
        return out


@dataclass(frozen=True, slots=True)
class QuantMethod:
    """A validated quantitation method: analytes, internal standards and limits."""

    name: str
    analytes: tuple[Analyte, ...]
    internal_standards: tuple[InternalStandard, ...] = ()
    unit: str = "ug/mL"
    version: str = ""
    description: str = ""
    saturation_counts: float | None = None
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)
    acceptance: Acceptance = field(default_factory=Acceptance)
    path: str | None = None
    sha256: str | None = None

    def internal_standard(self, analyte: Analyte) -> InternalStandard | None:
        """The internal standard an analyte is normalised to (None: external calibration)."""
        if not analyte.internal_standard:
            return None
        for standard in self.internal_standards:
            if standard.id == analyte.internal_standard:
                return standard
        raise ProfileError(f"{self.path or self.name}: analyte {analyte.name!r} names "
                           f"internal standard {analyte.internal_standard!r}, not defined")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what a result file records of the method it used)."""
        return {
            "name": self.name, "version": self.version, "description": self.description,
            "unit": self.unit, "saturation_counts": self.saturation_counts,
            "path": self.path, "sha256": self.sha256,
            "integration": self.integration.to_dict(),
            "acceptance": self.acceptance.to_dict(),
            "internal_standards": [s.to_dict() for s in self.internal_standards],
            "analytes": [a.to_dict() for a in self.analytes],
        }


# ---------------------------------------------------------------------------- parsing
def _as_text(origin: str, key: str, value: Any) -> str:
    """A free-text field (version, description): any TOML value, written as text."""
    return str(value)


@dataclass(frozen=True, slots=True)
class _Header:
    """The ``[method]`` table."""

    name: str
    version: str = field(default="", metadata={"convert": _as_text})
    description: str = field(default="", metadata={"convert": _as_text})
    unit: str = "ug/mL"
    saturation_counts: float | None = field(default=None, metadata=_limits(0, None,
                                                                           low_open=True))


@dataclass(frozen=True, slots=True)
class _MethodFile:
    """A method file's top level (``schema`` is checked before anything else)."""

    method: _Header
    schema: str = SCHEMA
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)
    acceptance: Acceptance = field(default_factory=Acceptance)
    internal_standard: tuple[InternalStandard, ...] = ()
    analyte: tuple[Analyte, ...] = ()


def parse_method(document: dict[str, Any], *, source: str = "<method>",
                 sha256: str | None = None) -> QuantMethod:
    """Validate a parsed TOML document and build the :class:`QuantMethod` it describes.

    Raises
    ------
    ProfileError
        Naming ``source`` and the key: an unknown key (with "did you mean"), a value of
        the wrong type or out of range, a missing required key, an inconsistent method.
    """
    schema = document.get("schema")
    if schema != SCHEMA:
        raise ProfileError(f"{source}: schema must be {SCHEMA!r}, got {schema!r}")
    parsed = from_table(_MethodFile, document, origin=source, error=ProfileError)
    head = parsed.method
    if not head.name.strip():
        raise ProfileError(f"{source}: method.name: must not be empty")
    try:
        concentration_factor(head.unit)
    except GcmsError as error:
        raise ProfileError(f"{source}: method.unit: {error}") from None
    standards, analytes = parsed.internal_standard, parsed.analyte
    if not analytes:
        raise ProfileError(f"{source}: the method has no [[analyte]]")
    for kind, items, key in (("internal_standard", standards, "id"),
                             ("analyte", analytes, "name")):
        seen: set[str] = set()
        for i, item in enumerate(items):
            name = getattr(item, key).strip().casefold()
            if not name:
                raise ProfileError(f"{source}: {kind}[{i}].{key} is empty")
            if name in seen:
                raise ProfileError(f"{source}: {kind}[{i}].{key} {getattr(item, key)!r} "
                                   f"is used twice")
            seen.add(name)
    ids = {s.id for s in standards}
    for i, analyte in enumerate(analytes):
        if analyte.internal_standard and analyte.internal_standard not in ids:
            raise ProfileError(f"{source}: analyte[{i}].internal_standard "
                               f"{analyte.internal_standard!r} is not an internal_standard id "
                               f"({', '.join(sorted(ids)) or 'none defined'})")
    return QuantMethod(
        name=head.name.strip(), version=head.version, description=head.description,
        unit=head.unit, saturation_counts=head.saturation_counts,
        integration=parsed.integration, acceptance=parsed.acceptance,
        internal_standards=standards, analytes=analytes, path=source, sha256=sha256,
    )


def load_method(path: str | Path) -> QuantMethod:
    """Read and validate a quantitation method file (TOML, schema ``gcms-quant-method/1``).

    The method records the file's path and the SHA-256 of its bytes.

    Raises
    ------
    ProfileError
        The file cannot be read, is not TOML, or breaks the schema (the message names
        the file and the key).
    """
    document = read_toml(path, error=ProfileError)
    return parse_method(dict(document.data), source=document.source, sha256=document.sha256)


def find_method(name: str | Path) -> Path:
    """The method file ``name`` names: a path, or a file stem.

    A stem is looked up in the folders of ``$GCMS_METHODS`` (``os.pathsep``-separated),
    then in ``./instruments/methods`` (:func:`gcms.config.search_path`).

    Raises
    ------
    ProfileError
        Nothing by that name (the message lists where it looked).
    """
    path = Path(name)
    if path.is_file():
        return path
    folders = search_path("methods")
    for folder in folders:
        for candidate in (folder / path.name, folder / f"{path.name}.toml"):
            if candidate.is_file():
                return candidate
    looked = ", ".join(str(f) for f in folders)
    raise ProfileError(f"{name}: no such method file (looked in the current folder and "
                       f"{looked})")
