"""Homologous series used as retention-index markers: n-alkanes and FAME methyl esters.

A series is described by the ions that trace it in a chromatogram, the mass of its
molecular ion as a function of carbon number, and the fragment family that makes up
most of its spectra. The ladder finder (:func:`gcms.retention.find_ladder`) works on any
series given in this form; the two in common use are provided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FAME_METHYL_ESTERS", "N_ALKANES", "SERIES", "HomologousSeries", "series_named"]


@dataclass(frozen=True, slots=True)
class HomologousSeries:
    """A homologous series of retention-index markers.

    Parameters
    ----------
    name
        The name labs use ("n-alkanes").
    trace_ions
        Nominal m/z summed into the chromatographic trace the members are picked on.
    molecular_ion_intercept
        ``M = 14·n + molecular_ion_intercept`` for the member with ``n`` carbons counted
        as the series counts them (n-alkanes CnH2n+2: +2; FAME methyl esters named by
        the acid's carbon number, CnH2n-1O2·CH3: +46).
    family_ions
        ``(slope, intercept, k_min)``: the fragment family ``slope·k + intercept`` for
        ``k >= k_min`` that carries most of a member's spectrum (n-alkanes: CkH2k+1+,
        14k+1 from m/z 43; FAMEs: the carbomethoxy series CH3OCO(CH2)k+, 14k+59 from
        m/z 87, plus m/z 74, see ``extra_family_ions``).
    extra_family_ions
        Single ions counted with the family (the McLafferty ion m/z 74 of methyl esters).
    min_family_fraction
        Least share of the apex spectrum's signal (m/z >= 39) on family ions for a peak
        to count as a member. n-Alkane reference spectra C8-C36 carry 0.52-0.70 on
        CkH2k+1+; of 1,284 metabolite reference spectra 99 % carry below 0.30.
    fragments_below_molecular_ion
        Whether every family fragment of a member with ``n`` carbons lies below its own
        molecular ion (true for n-alkanes: CkH2k+1+ with ``k <= n - 1``). Used to catch
        carbon numbers named too low.
    ri_per_carbon
        Retention index units per carbon (100 for the Kovats scale).
    default_first_carbon
        Carbon number assumed for the first member when neither a molecular ion nor an
        expected retention time names the ladder (the C8 of a C8-C40 standard).
    carbon_range
        Members considered when looking for molecular ions.
    """

    name: str
    trace_ions: tuple[int, ...]
    molecular_ion_intercept: int
    family_ions: tuple[int, int, int]
    extra_family_ions: tuple[int, ...] = ()
    min_family_fraction: float = 0.40
    fragments_below_molecular_ion: bool = False
    ri_per_carbon: float = 100.0
    default_first_carbon: int = 8
    carbon_range: tuple[int, int] = (5, 60)

    def molecular_ion(self, carbons) -> np.ndarray:
        """Nominal m/z of the molecular ion of the members with ``carbons`` carbons."""
        return 14 * np.asarray(carbons, dtype=np.int64) + self.molecular_ion_intercept

    def family(self, mz_max: int) -> np.ndarray:
        """Every family ion up to ``mz_max`` (sorted nominal m/z)."""
        slope, intercept, k_min = self.family_ions
        k = np.arange(k_min, max(k_min, (mz_max - intercept) // slope) + 1)
        ions = np.concatenate([slope * k + intercept, np.asarray(self.extra_family_ions)])
        return np.unique(ions[ions <= mz_max]).astype(np.int64)

    def to_dict(self) -> dict:
        """JSON form (the series' name is what calibrations record)."""
        return {"name": self.name, "trace_ions": list(self.trace_ions),
                "molecular_ion": f"14n+{self.molecular_ion_intercept}",
                "ri_per_carbon": self.ri_per_carbon}


#: n-Alkanes CnH2n+2: traced on the alkyl ions C4H9+ (57), C5H11+ (71), C6H13+ (85).
N_ALKANES = HomologousSeries(
    name="n-alkanes",
    trace_ions=(57, 71, 85),
    molecular_ion_intercept=2,
    family_ions=(14, 1, 3),
    min_family_fraction=0.40,
    fragments_below_molecular_ion=True,
)

#: Fatty-acid methyl esters named by the acid's carbon number (C8 = methyl octanoate,
#: M = 158), RI = 100 x carbon number as in the Fiehn FAMEs marker mix: traced on the
#: McLafferty ion (74) and CH3OCO(CH2)2+ (87).
FAME_METHYL_ESTERS = HomologousSeries(
    name="FAME methyl esters",
    trace_ions=(74, 87),
    molecular_ion_intercept=46,
    family_ions=(14, 59, 2),
    extra_family_ions=(74, 75),
    min_family_fraction=0.30,
    fragments_below_molecular_ion=False,
)

#: The series by name (as profiles and calibrations record them).
SERIES: dict[str, HomologousSeries] = {s.name: s for s in (N_ALKANES, FAME_METHYL_ESTERS)}


def series_named(name: str) -> HomologousSeries:
    """The series called ``name``; ``ValueError`` listing the known ones otherwise.

    Parameters
    ----------
    name : str
        A key of ``SERIES``: ``"n-alkanes"`` or ``"FAME methyl esters"``.

    Returns
    -------
    HomologousSeries
        Its trace ions, molecular-ion rule and index per carbon.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).

    Examples
    --------
    >>> from gcms.retention import series_named
    >>> alkanes = series_named("n-alkanes")
    >>> alkanes.trace_ions, alkanes.ri_per_carbon
    ((57, 71, 85), 100.0)
    """
    try:
        return SERIES[name]
    except KeyError:
        raise ValueError(f"unknown homologous series {name!r} (known: {', '.join(SERIES)})") \
            from None
