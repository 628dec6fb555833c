"""Profiling methods as data: the targets of a drug class, how a profile is normalised and compared.

A profiling method is a TOML file (schema ``gcms-profiling-method/1``) read by the project's one
converter (:func:`gcms.config.read_toml`, :func:`gcms.config.from_table`): an unknown key is
refused with the closest known one, every number is range-checked, and the method records the
file it came from and the SHA-256 of its bytes, which every profile and link quotes::

    schema = "gcms-profiling-method/1"

    [method]
    name = "cocaine-impurities"
    drug = "cocaine"

    [profile]
    normalisation = "sum"        # area / sum of the profile targets' areas
    transform = "fourth-root"    # then x**0.25 ("none", "fourth-root", "log10")
    metric = "pearson"           # "pearson", "cosine", "canberra", "euclidean"

    [[target]]
    name = "tropacocaine"
    role = "impurity"
    rt_s = 349.8                 # or ri = 1540.0 with ri_window (a run's RI calibration)
    window_s = 3.0
    quantifier_mz = [124]        # several ions: their XICs are summed into one trace
    qualifier_mz = [82, 94]
    source = "where this target and its numbers come from"

Pretreatment and metrics follow the European harmonised amphetamine profiling work: peak areas
normalised to their sum, then the fourth root or a logarithm, compared by Pearson correlation
(Andersson et al., Forensic Sci. Int. 169 (2007) 86-99). Targets whose ``in_profile`` is false
(the main drug, an internal standard, adulterants by default) are measured and stored but do not
enter the comparison: adulterants are added after production, by each dealer down the chain.

Shipped methods live in ``gcms/profiling/methods`` (:func:`shipped_methods`); a lab's own
method is any TOML file of this schema, named by its path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gcms.config import from_table, limits, read_toml
from gcms.errors import ProfileError
from gcms.quantitation.method import IntegrationSettings

__all__ = [
    "METHODS_DIR",
    "SCHEMA",
    "ProfileSettings",
    "ProfilingMethod",
    "Target",
    "find_profiling_method",
    "load_profiling_method",
    "shipped_methods",
]

#: Schema tag of a profiling method file.
SCHEMA = "gcms-profiling-method/1"
#: Where the shipped profiling methods live.
METHODS_DIR = Path(__file__).parent / "methods"

Role = Literal["impurity", "adulterant", "main", "internal_standard", "diluent"]
Normalisation = Literal["sum", "main"]
Transform = Literal["none", "fourth-root", "log10"]
Metric = Literal["pearson", "cosine", "canberra", "euclidean"]

#: Metrics that are similarities (higher = closer); the others are distances.
SIMILARITIES = frozenset({"pearson", "cosine"})


@dataclass(frozen=True, slots=True)
class Target:
    """One target compound: where it elutes, the ions it is measured on, why it is there.

    Exactly one of ``rt_s`` (retention time, s; window ``± window_s``) or ``ri`` (retention
    index; window ``± ri_window``, placed on a run's time axis by its RI calibration).
    ``quantifier_mz`` holds one or more ions: several are summed into one trace (the
    cinnamoylcocaines of the shipped cocaine method are measured that way).
    ``max_qualifier_ratio``: a peak whose qualifier/quantifier area ratio exceeds this is
    another compound's minor ion, not the target (recorded as rejected, the target absent).
    """

    name: str
    quantifier_mz: tuple[float, ...] = field(metadata=limits(1, None))
    role: Role = "impurity"
    in_profile: bool | None = None
    rt_s: float | None = field(default=None, metadata=limits(0, None))
    window_s: float = field(default=3.0, metadata=limits(0, 600, low_open=True))
    ri: float | None = field(default=None, metadata=limits(0, None))
    ri_window: float = field(default=20.0, metadata=limits(0, 1000, low_open=True))
    qualifier_mz: tuple[float, ...] = field(default=(), metadata=limits(1, None))
    mz_tolerance: float = field(default=0.5, metadata=limits(0, 5))
    max_qualifier_ratio: float | None = field(default=10.0, metadata=limits(0, None,
                                                                            low_open=True))
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if (self.rt_s is None) == (self.ri is None):
            raise ValueError(f"target {self.name!r}: give exactly one of rt_s and ri")
        if not self.quantifier_mz:
            raise ValueError(f"target {self.name!r}: quantifier_mz is empty")
        if self.in_profile is None:
            object.__setattr__(self, "in_profile", self.role == "impurity")

    @property
    def signal_label(self) -> str:
        """``m/z 124`` or ``m/z 82+182+83``."""
        return "m/z " + "+".join(f"{mz:g}" for mz in self.quantifier_mz)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dataclasses.asdict(self)
        out["quantifier_mz"] = list(self.quantifier_mz)
        out["qualifier_mz"] = list(self.qualifier_mz)
        return out


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """How a profile is normalised, transformed and compared (the ``[profile]`` table).

    Attributes
    ----------
    normalisation : "sum" | "main"
        ``sum``: each profile target's area over the sum of the profile targets' areas;
        ``main``: over the area of the ``main`` target (the ratio to the drug itself, as
        the cocaine program this project's cocaine method comes from reports).
    transform : "none" | "fourth-root" | "log10"
        Applied to the normalised value ``x``: ``x ** 0.25`` or ``log10(x + log_offset)``
        (the offset keeps an absent target, ``x = 0``, finite).
    log_offset : float
        See ``transform``.
    metric : "pearson" | "cosine" | "canberra" | "euclidean"
        Pearson correlation and cosine are similarities (a link: score >= threshold);
        Canberra and Euclidean are distances (a link: score <= threshold).
    """

    normalisation: Normalisation = "sum"
    transform: Transform = "fourth-root"
    log_offset: float = field(default=1e-4, metadata=limits(0, 1, low_open=True))
    metric: Metric = "pearson"

    @property
    def higher_is_closer(self) -> bool:
        """Whether a larger score means more alike (similarity) or less (distance)."""
        return self.metric in SIMILARITIES

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class _Header:
    name: str
    drug: str
    version: str = ""
    description: str = ""
    source: str = ""
    licence: str = ""
    caution: str = ""


@dataclass(frozen=True, slots=True)
class _MethodFile:
    method: _Header
    schema: str = SCHEMA
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    integration: IntegrationSettings = field(
        default_factory=lambda: IntegrationSettings(peak_selection="closest"))
    saturation_counts: float | None = field(default=None, metadata=limits(0, None,
                                                                          low_open=True))
    target: tuple[Target, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfilingMethod:
    """A validated profiling method: its targets, profile settings and integration rule."""

    name: str
    drug: str
    targets: tuple[Target, ...]
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)
    saturation_counts: float | None = None
    version: str = ""
    description: str = ""
    source: str = ""
    licence: str = ""
    # what the method's authors have not validated (e.g. retention indices to be set from
    # the lab's own standards): the command line prints it with every use of the method
    caution: str = ""
    path: str | None = None
    sha256: str | None = None

    @property
    def profile_targets(self) -> tuple[Target, ...]:
        """The targets that enter the comparison, in the method's order."""
        return tuple(t for t in self.targets if t.in_profile)

    @property
    def main(self) -> Target | None:
        """The ``main`` target (the drug itself), if the method names one."""
        return next((t for t in self.targets if t.role == "main"), None)

    def target(self, name: str) -> Target:
        """A target by name (KeyError when absent)."""
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def identity(self) -> dict[str, Any]:
        """What a stored profile or link quotes of its method."""
        return {"name": self.name, "version": self.version, "path": self.path,
                "sha256": self.sha256}

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self.identity(), "drug": self.drug, "description": self.description,
                "source": self.source, "licence": self.licence, "caution": self.caution,
                "profile": self.profile.to_dict(), "integration": self.integration.to_dict(),
                "saturation_counts": self.saturation_counts,
                "targets": [t.to_dict() for t in self.targets]}


def parse_profiling_method(document: dict[str, Any], *, source: str = "<method>",
                           sha256: str | None = None) -> ProfilingMethod:
    """Validate a parsed TOML document and build its :class:`ProfilingMethod`.

    Raises
    ------
    ProfileError
        Naming ``source`` and the key: a wrong schema, an unknown key (with "did you
        mean"), a value of the wrong type or out of range, a missing key, no profile
        target, a name used twice, ``normalisation = "main"`` without a main target.
    """
    schema = document.get("schema")
    if schema != SCHEMA:
        raise ProfileError(f"{source}: schema must be {SCHEMA!r}, got {schema!r}")
    parsed = from_table(_MethodFile, document, origin=source, error=ProfileError)
    head = parsed.method
    if not head.name.strip():
        raise ProfileError(f"{source}: method.name: must not be empty")
    seen: set[str] = set()
    for i, t in enumerate(parsed.target):
        key = t.name.strip().casefold()
        if not key:
            raise ProfileError(f"{source}: target[{i}].name is empty")
        if key in seen:
            raise ProfileError(f"{source}: target[{i}].name {t.name!r} is used twice")
        seen.add(key)
    if not any(t.in_profile for t in parsed.target):
        raise ProfileError(f"{source}: no [[target]] enters the profile (in_profile; "
                           "impurities do by default)")
    mains = [t.name for t in parsed.target if t.role == "main"]
    if len(mains) > 1:
        raise ProfileError(f"{source}: more than one main target ({', '.join(mains)})")
    if parsed.profile.normalisation == "main" and not mains:
        raise ProfileError(f"{source}: profile.normalisation: 'main' needs a target with "
                           "role = \"main\"")
    return ProfilingMethod(
        name=head.name.strip(), drug=head.drug, targets=parsed.target, profile=parsed.profile,
        integration=parsed.integration, saturation_counts=parsed.saturation_counts,
        version=head.version, description=head.description, source=head.source,
        licence=head.licence, caution=head.caution.strip(), path=source, sha256=sha256)


def load_profiling_method(path: str | Path) -> ProfilingMethod:
    """Read and validate a profiling method file (its path and SHA-256 recorded).

    Raises
    ------
    ProfileError
        The file cannot be read, is not TOML, or breaks the schema.
    """
    document = read_toml(path, error=ProfileError)
    return parse_profiling_method(dict(document.data), source=document.source,
                                  sha256=document.sha256)


def shipped_methods() -> dict[str, Path]:
    """The shipped profiling methods by name (file stem)."""
    return {p.stem: p for p in sorted(METHODS_DIR.glob("*.toml"))}


def find_profiling_method(name: str | Path) -> ProfilingMethod:
    """A method by path, or by the name of a shipped method (``cocaine``, ``ats-captagon``).

    Raises
    ------
    ProfileError
        No file by that path and no shipped method by that name (the names are listed).
    """
    path = Path(name)
    if path.is_file():
        return load_profiling_method(path)
    shipped = shipped_methods()
    if str(name) in shipped:
        return load_profiling_method(shipped[str(name)])
    raise ProfileError(f"{name}: no such profiling method file, nor a shipped method "
                       f"({', '.join(shipped) or 'none'})")
