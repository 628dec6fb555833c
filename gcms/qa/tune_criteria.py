"""Named tune-criteria sets: PFTBA autotune, EPA 8270 DFTPP, EPA 8260 / 524.2 BFB.

Each set is a list of :class:`TuneRule`. An instrument profile names the set(s) it is
held to and may override any rule's limits by its key (``[tune.limits.air_28_69]
high = 5.0``). The numbers and their primary sources:

* **agilent-pftba-autotune** — mass assignment of m/z 69/219/502 within ±0.10 u of
  nominal; 219 >= 40 % and 502 >= 2 % of 69 (a standard-spectra tune; autotunes often
  give more); isotope ratios 70/69, 220/219, 503/502 against 13C/15N theory (1.08, 4.33,
  10.10 %) with the accepted bands 0.5-1.6, 3.2-5.4, 7.9-12.3 %; PW50 0.50-0.70 u where
  profile data exist; water 18/69 <= 20 %, nitrogen 28/69 <= 10 %, 32/69 and 44/69
  recorded; an air leak (28/69 above 5 % with 28:32 near air's 4:1) fails.
  Sources: Agilent MSD ChemStation / MassHunter tune help ("Autotune", PFTBA on m/z
  69/219/502) and the isotope abundances of C, N and F (IUPAC, Isotopic compositions of
  the elements 2013); these are typical limits, not a manufacturer's specification:
  verify against the instrument's manual and set the lab's own limits in its profile.
* **epa-dftpp-8270** — EPA SW-846 8270D Table 3 ion-abundance criteria for DFTPP.
* **epa-dftpp-8270c** — the older 8270C table.
* **epa-bfb-8260** — EPA 8260B BFB criteria; **epa-bfb-524.2** — EPA 524.2 (m/z 75
  30-80 %).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gcms.qa.records import Limit

__all__ = [
    "C13_PER_CARBON",
    "N15_PER_NITROGEN",
    "TUNE_CRITERIA",
    "TuneCriteriaSet",
    "TuneRule",
    "tune_criteria",
]

#: 13C/12C = 1.07/98.93 (IUPAC natural abundance): M+1 share per carbon atom.
C13_PER_CARBON = 0.0107 / 0.9893
#: 15N/14N = 0.364/99.636: M+1 share per nitrogen atom.
N15_PER_NITROGEN = 0.00364 / 0.99636

#: PFTBA (perfluorotributylamine, C12F27N) tune ions: CF3+ 69, C4F9+ 219, C9F20N+ 502.
PFTBA_TUNE_IONS_MZ = (69, 219, 502)


def _isotope_percent(carbons: int, nitrogens: int = 0) -> float:
    """Theoretical (M+1)/M in percent for a fluorocarbon ion (F, 19F only, adds nothing)."""
    return 100.0 * (carbons * C13_PER_CARBON + nitrogens * N15_PER_NITROGEN)


RuleKind = Literal["mass", "abundance", "width", "air-leak"]


@dataclass(frozen=True, slots=True)
class TuneRule:
    """One tune criterion.

    ``kind``:

    * ``"mass"`` — measured m/z of the ``mz`` peak (profile centroid, else the reported
      m/z) must lie in ``limit`` (u);
    * ``"abundance"`` — ``100 · I(mz) / I(reference)`` in percent, ``reference`` an m/z or
      ``"base"`` (the base peak); with ``or_base_peak`` the rule also passes when ``mz``
      is the base peak (EPA "base peak, or > 50 % of 442"); ``theory`` gives the
      expected value of an isotope ratio;
    * ``"width"`` — PW50, the full width at half maximum (u) of the ``mz`` profile peak;
      judged only on profile data;
    * ``"air-leak"`` — ``I(28)/I(32)``; fails when ``I(28)/I(69)`` exceeds ``threshold``
      percent and the ratio lies in ``limit`` (air gives about 4:1).
    """

    key: str
    kind: RuleKind
    mz: int
    limit: Limit
    reference: int | Literal["base"] | None = None
    or_base_peak: bool = False
    theory: float | None = None
    threshold: float | None = None
    required: bool = True
    title: str = ""

    @property
    def unit(self) -> str:
        """Unit of the value the rule judges."""
        return {"mass": "u", "width": "u", "abundance": "%", "air-leak": ""}[self.kind]

    @property
    def name(self) -> str:
        """What the rule measures, in words."""
        if self.title:
            return self.title
        if self.kind == "mass":
            return f"m/z {self.mz} mass assignment"
        if self.kind == "width":
            return f"m/z {self.mz} peak width (PW50)"
        if self.kind == "air-leak":
            return "air-leak signature 28/32"
        ref = "base peak" if self.reference == "base" else f"m/z {self.reference}"
        return f"m/z {self.mz} relative to {ref}"

    def limit_text(self) -> str:
        """The rule's limit in words, as the standard phrases it."""
        text = self.limit.text(self.unit)
        if self.limit.is_open:
            return text
        if self.kind == "abundance" and self.reference is not None:
            ref = "base peak" if self.reference == "base" else f"m/z {self.reference}"
            text = f"{text} of {ref}"
            if self.or_base_peak:
                text = f"base peak, or {text}"
            if self.theory is not None:
                text = f"{text} (theory {self.theory:.2f} %)"
        if self.kind == "air-leak":
            text = (f"fails if 28/69 > {self.threshold:g} % and 28/32 within "
                    f"{self.limit.text()}")
        return text

    def with_limit(self, *, low: float | None = None, high: float | None = None,
                   required: bool | None = None) -> TuneRule:
        """A copy with the limit's bounds overridden (``None``: keep the set's bound)."""
        limit = self.limit.replace(low=self.limit.low if low is None else low,
                                   high=self.limit.high if high is None else high)
        return dataclasses.replace(self, limit=limit,
                                   required=self.required if required is None else required)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"key": self.key, "kind": self.kind, "mz": self.mz,
                "reference": self.reference, "name": self.name,
                "limit": self.limit_text(), "required": self.required,
                **{f"limit_{k}": v for k, v in self.limit.to_dict().items()}}


@dataclass(frozen=True, slots=True)
class TuneCriteriaSet:
    """A named set of tune rules for one calibrant.

    ``key_ions`` locate the calibrant in a run (the scan where their sum peaks);
    ``reference`` cites where the numbers come from.
    """

    name: str
    calibrant: str
    title: str
    reference: str
    key_ions: tuple[int, ...]
    rules: tuple[TuneRule, ...]

    def rule(self, key: str) -> TuneRule:
        """The rule called ``key``."""
        for rule in self.rules:
            if rule.key == key:
                return rule
        raise KeyError(f"tune criteria {self.name!r} have no rule {key!r}")

    @property
    def keys(self) -> tuple[str, ...]:
        """Rule keys, in order."""
        return tuple(r.key for r in self.rules)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> TuneCriteriaSet:
        """A copy with rule limits replaced: ``{"air_28_69": {"high": 5.0}}``.

        Keys not in this set are ignored here (a profile may hold limits for several
        sets; :mod:`gcms.qa.profile` checks that each key exists in one of them).
        """
        rules = []
        for rule in self.rules:
            change = overrides.get(rule.key)
            if change:
                rule = rule.with_limit(low=change.get("low"), high=change.get("high"),
                                       required=change.get("required"))
            rules.append(rule)
        return dataclasses.replace(self, rules=tuple(rules))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "calibrant": self.calibrant, "title": self.title,
                "reference": self.reference, "key_ions": list(self.key_ions),
                "rules": [r.to_dict() for r in self.rules]}


def _abundance(key: str, mz: int, reference: int | str, low: float | None = None,
               high: float | None = None, *, low_inclusive: bool = True,
               high_inclusive: bool = True, **extra: Any) -> TuneRule:
    return TuneRule(key=key, kind="abundance", mz=mz, reference=reference,
                    limit=Limit(low, high, low_inclusive, high_inclusive), **extra)


def _pftba() -> TuneCriteriaSet:
    mass_tolerance = 0.10
    rules: list[TuneRule] = [
        TuneRule(f"mass_{m}", "mass", m, Limit(m - mass_tolerance, m + mass_tolerance))
        for m in PFTBA_TUNE_IONS_MZ
    ]
    rules += [
        _abundance("abundance_219", 219, 69, 40.0),
        _abundance("abundance_502", 502, 69, 2.0),
        _abundance("isotope_70_69", 70, 69, 0.5, 1.6, theory=_isotope_percent(1)),
        _abundance("isotope_220_219", 220, 219, 3.2, 5.4, theory=_isotope_percent(4)),
        _abundance("isotope_503_502", 503, 502, 7.9, 12.3, theory=_isotope_percent(9, 1)),
    ]
    rules += [TuneRule(f"width_{m}", "width", m, Limit(0.50, 0.70), required=False)
              for m in PFTBA_TUNE_IONS_MZ]
    rules += [
        _abundance("water_18_69", 18, 69, None, 20.0, title="water m/z 18 relative to m/z 69"),
        _abundance("air_28_69", 28, 69, None, 10.0, title="nitrogen m/z 28 relative to m/z 69"),
        _abundance("oxygen_32_69", 32, 69, required=False,
                   title="oxygen m/z 32 relative to m/z 69"),
        _abundance("co2_44_69", 44, 69, required=False,
                   title="carbon dioxide m/z 44 relative to m/z 69"),
        TuneRule("air_leak_28_32", "air-leak", 28, Limit(3.0, 5.0), reference=32,
                 threshold=5.0),
    ]
    return TuneCriteriaSet(
        name="agilent-pftba-autotune",
        calibrant="PFTBA",
        title="PFTBA (perfluorotributylamine) EI autotune",
        reference="Agilent MSD tune help: autotune on PFTBA m/z 69/219/502; isotope "
                  "ratios from IUPAC isotopic compositions (typical limits: verify per "
                  "model manual)",
        key_ions=PFTBA_TUNE_IONS_MZ,
        rules=tuple(rules),
    )


def _dftpp(modern: bool) -> TuneCriteriaSet:
    if modern:
        rules = (
            _abundance("dftpp_51", 51, "base", 10.0, 80.0),
            _abundance("dftpp_68", 68, 69, None, 2.0, high_inclusive=False),
            _abundance("dftpp_70", 70, 69, None, 2.0, high_inclusive=False),
            _abundance("dftpp_127", 127, "base", 10.0, 80.0),
            _abundance("dftpp_197", 197, 198, None, 2.0, high_inclusive=False),
            _abundance("dftpp_198", 198, 442, 50.0, low_inclusive=False, or_base_peak=True),
            _abundance("dftpp_199", 199, 198, 5.0, 9.0),
            _abundance("dftpp_275", 275, "base", 10.0, 60.0),
            _abundance("dftpp_365", 365, 198, 1.0, low_inclusive=False),
            _abundance("dftpp_441", 441, 443, 0.0, 100.0, low_inclusive=False,
                       high_inclusive=False, title="m/z 441 present and below m/z 443"),
            _abundance("dftpp_442", 442, 198, 50.0, low_inclusive=False, or_base_peak=True),
            _abundance("dftpp_443", 443, 442, 15.0, 24.0),
        )
        return TuneCriteriaSet(
            "epa-dftpp-8270", "DFTPP", "DFTPP (decafluorotriphenylphosphine), EPA 8270D",
            "US EPA SW-846 Method 8270D, Table 3 (8270E also allows the manufacturer's "
            "criteria); Eichelberger, Harris & Budde, Anal. Chem. 47 (1975) 995",
            (198, 442), rules)
    rules = (
        _abundance("dftpp_51", 51, 198, 30.0, 60.0),
        _abundance("dftpp_68", 68, 69, None, 2.0, high_inclusive=False),
        _abundance("dftpp_70", 70, 69, None, 2.0, high_inclusive=False),
        _abundance("dftpp_127", 127, 198, 40.0, 60.0),
        _abundance("dftpp_197", 197, 198, None, 1.0, high_inclusive=False),
        _abundance("dftpp_198", 198, "base", 100.0, 100.0, title="m/z 198 base peak"),
        _abundance("dftpp_199", 199, 198, 5.0, 9.0),
        _abundance("dftpp_275", 275, 198, 10.0, 30.0),
        _abundance("dftpp_365", 365, 198, 1.0, low_inclusive=False),
        _abundance("dftpp_441", 441, 443, 0.0, 100.0, low_inclusive=False,
                   high_inclusive=False, title="m/z 441 present and below m/z 443"),
        _abundance("dftpp_442", 442, 198, 40.0, low_inclusive=False),
        _abundance("dftpp_443", 443, 442, 17.0, 23.0),
    )
    return TuneCriteriaSet(
        "epa-dftpp-8270c", "DFTPP", "DFTPP (decafluorotriphenylphosphine), EPA 8270C",
        "US EPA SW-846 Method 8270C, Table 3", (198, 442), rules)


def _bfb(method: Literal["8260", "524.2"]) -> TuneCriteriaSet:
    high_75 = 60.0 if method == "8260" else 80.0
    rules = (
        _abundance("bfb_50", 50, 95, 15.0, 40.0),
        _abundance("bfb_75", 75, 95, 30.0, high_75),
        _abundance("bfb_95", 95, "base", 100.0, 100.0, title="m/z 95 base peak"),
        _abundance("bfb_96", 96, 95, 5.0, 9.0),
        _abundance("bfb_173", 173, 174, None, 2.0, high_inclusive=False),
        _abundance("bfb_174", 174, 95, 50.0, low_inclusive=False),
        _abundance("bfb_175", 175, 174, 5.0, 9.0),
        _abundance("bfb_176", 176, 174, 95.0, 101.0, low_inclusive=False,
                   high_inclusive=False),
        _abundance("bfb_177", 177, 176, 5.0, 9.0),
    )
    name = "epa-bfb-8260" if method == "8260" else "epa-bfb-524.2"
    source = "SW-846 Method 8260B" if method == "8260" else "Method 524.2"
    return TuneCriteriaSet(
        name, "BFB", f"BFB (4-bromofluorobenzene), EPA {method}",
        f"US EPA {source} BFB key ions and abundance criteria",
        (95, 174), rules)


#: Every built-in tune-criteria set by name.
TUNE_CRITERIA: dict[str, TuneCriteriaSet] = {
    s.name: s for s in (_pftba(), _dftpp(True), _dftpp(False), _bfb("8260"), _bfb("524.2"))
}


def tune_criteria(name: str) -> TuneCriteriaSet:
    """The built-in set called ``name``; ``KeyError`` listing the known ones otherwise."""
    try:
        return TUNE_CRITERIA[name]
    except KeyError:
        raise KeyError(f"unknown tune criteria {name!r} (known: {', '.join(TUNE_CRITERIA)})") \
            from None
