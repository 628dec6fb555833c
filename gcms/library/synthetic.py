"""Synthetic EI libraries and replicate queries for benchmarks and tests.

Not data: a generator whose spectra have the structure that makes library search hard,
so that speed and presearch recall are measured on something like a NIST-sized library:

* compounds come in families (a scaffold and its homologues, isomers, substituted
  analogues) that share most low-mass fragments and differ at high mass;
* fragment masses follow the common EI series (CnH2n+1, CnH2n-1, aromatic 77/91/105),
  abundances are heavy-tailed (a few large ions, many small), each major ion carries
  its 13C isotope peak, and the molecular ion is often weak;
* about 10 % of compounds have replicate spectra (other instruments), and spectra start
  at different low m/z (15-50) as real library records do;
* queries are measured versions of library spectra: multiplicative noise that grows
  as abundance falls, small peaks lost, noise and column-bleed peaks added, the low m/z
  cut of a real acquisition (35-50), and for some a co-eluting impurity.

Everything is drawn from a seeded ``numpy.random.Generator``: the same arguments give
the same spectra.
"""

from __future__ import annotations

import numpy as np

from gcms.library._peaks import PeakMatrix, search_peaks

__all__ = ["synthetic_library", "synthetic_queries"]

#: Ions common to many EI spectra (alkyl, alkenyl, aromatic series), drawn more often.
COMMON_IONS = np.array([27, 29, 39, 41, 43, 51, 55, 57, 65, 67, 69, 71, 77, 79, 81, 83,
                        85, 91, 95, 97, 105, 107, 115, 119, 128, 131, 152, 165])
#: Typical relative abundance of each common ion where it occurs (a generic EI
#: background: alkyl and aromatic series), so unrelated spectra share some pattern.
COMMON_TEMPLATE = np.array([0.30, 0.35, 0.25, 0.55, 0.60, 0.15, 0.45, 0.55, 0.15, 0.30,
                            0.35, 0.35, 0.30, 0.20, 0.25, 0.25, 0.20, 0.45, 0.15, 0.15,
                            0.25, 0.15, 0.15, 0.10, 0.10, 0.10, 0.08, 0.08])
#: Column-bleed and background ions added to queries as noise.
BACKGROUND_IONS = np.array([18, 28, 32, 44, 73, 147, 207, 221, 281, 355])
#: Log-normal spread of abundances between families of one class, and within a family.
CLASS_SPREAD = 0.30
FAMILY_SPREAD = 0.15
#: Lowest m/z of library records (instrument scan starts).
LIBRARY_LOW_MZ = np.array([15, 15, 20, 26, 27, 29, 33, 35, 40, 45, 50])


def _fragments(rng: np.random.Generator, mw: int) -> tuple[np.ndarray, np.ndarray]:
    """Fragment m/z and abundances of one scaffold of molecular weight ``mw``."""
    allowed = np.flatnonzero(COMMON_IONS < mw - 10)
    n_common = min(int(rng.integers(6, 16)), allowed.size)
    pick = rng.choice(allowed, size=n_common, replace=False)
    n_specific = rng.integers(8, 30)
    # Specific fragments: spread up to the molecular weight, more at low mass.
    specific = (30 + (mw - 30) * rng.beta(1.3, 1.6, size=n_specific)).astype(np.int64)
    specific = np.setdiff1d(specific, COMMON_IONS[pick])
    mz = np.concatenate([COMMON_IONS[pick], specific, [mw]])
    background = rng.uniform(0.2, 1.0)  # how strong this scaffold's low-mass series is
    abundance = np.concatenate([
        999.0 * background * COMMON_TEMPLATE[pick] * rng.lognormal(0.0, 0.4, size=n_common),
        999.0 * rng.random(specific.size) ** 3.0,
        [999.0 * rng.random() ** 2.5],  # molecular ion, often weak
    ])
    mz, first = np.unique(mz, return_index=True)
    abundance = abundance[first]
    abundance[rng.integers(mz.size)] = 999.0
    return mz, abundance


def _with_isotopes(mz: np.ndarray, abundance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add 13C (M+1, about 1.1 % per carbon, ~ m/14 carbons) isotope peaks."""
    carbons = np.maximum(mz / 14.0, 1.0)
    iso = abundance * 0.011 * carbons
    all_mz = np.concatenate([mz, mz + 1])
    all_ab = np.concatenate([abundance, iso])
    unique, inverse = np.unique(all_mz, return_inverse=True)
    total = np.zeros(unique.size)
    np.add.at(total, inverse, all_ab)
    return unique, total


def _member(rng, mz, abundance, shift, *, spread=0.35, changed=0.1, extra_peaks=5,
            heavy_from=(0.35, 0.75)):
    """A related compound: high-mass fragments shifted, abundances perturbed, peaks changed."""
    mz = mz.copy()
    heavy = mz > mz.max() * rng.uniform(*heavy_from)
    mz[heavy] += shift
    abundance = abundance * rng.lognormal(0.0, spread, size=abundance.size)
    keep = rng.random(mz.size) > changed
    keep[np.argmax(abundance)] = True
    extra = rng.integers(1, extra_peaks + 1)
    mz = np.concatenate([mz[keep], (30 + (mz.max() - 30) * rng.random(extra)).astype(int)])
    abundance = np.concatenate([abundance[keep], 200.0 * rng.random(extra) ** 3])
    return mz, abundance


def _replicate(rng, mz, abundance, *, noise: float):
    """Another record of the same compound: intensity noise, small peaks gained/lost."""
    factor = rng.lognormal(0.0, noise, size=abundance.size)
    abundance = abundance * factor
    keep = (abundance > 0.004 * abundance.max()) | (rng.random(abundance.size) > 0.5)
    return mz[keep], abundance[keep]


def synthetic_library(n: int, *, seed: int = 0, family_size: float = 16.0,
                      families_per_class: float = 16.0) -> PeakMatrix:
    """``n`` synthetic EI library spectra (preprocessed, packed).

    Compounds come in classes (a scaffold: ~``families_per_class`` families sharing
    its fragments with moderately different abundances) and families (~``family_size``
    close analogues: homologues, isomers). The defaults were chosen so that searching
    13,000 of these with replicate queries gives hit lists shaped like those of the real
    massbank-ei records searched against each other (median 10th-best MF near 600).
    """
    rng = np.random.default_rng(seed)
    peaks: list[tuple[np.ndarray, np.ndarray]] = []
    shifts_choice = np.array([0, 14, 28, 16, 34, 42, 15, 30, 44, 58, -14])
    while len(peaks) < n:
        mw = int(np.clip(rng.lognormal(np.log(230), 0.35), 60, 650))
        class_mz, class_ab = _fragments(rng, mw)
        for _ in range(1 + int(rng.poisson(families_per_class - 1))):
            fam_mz, fam_ab = _member(rng, class_mz, class_ab, int(rng.choice(shifts_choice)),
                                     spread=CLASS_SPREAD, changed=0.15, extra_peaks=6,
                                     heavy_from=(0.5, 0.9))
            members = 1 + int(rng.poisson(family_size - 1))
            for shift in rng.choice(shifts_choice, size=members):
                mz, ab = _member(rng, fam_mz, fam_ab, int(shift), spread=FAMILY_SPREAD,
                                 changed=0.08, extra_peaks=3, heavy_from=(0.6, 0.95))
                mz, ab = _with_isotopes(np.asarray(mz), np.asarray(ab))
                copies = 1 + (rng.random() < 0.1) * rng.integers(1, 3)
                for _ in range(copies):
                    rmz, rab = _replicate(rng, mz, ab, noise=0.25)
                    low = rng.choice(LIBRARY_LOW_MZ)
                    keep = rmz >= low
                    if keep.sum() < 3:
                        continue
                    peaks.append(search_peaks(rmz[keep].astype(np.float64), rab[keep]))
                    if len(peaks) == n:
                        break
                if len(peaks) == n:
                    break
            if len(peaks) == n:
                break
    order = rng.permutation(n)
    return PeakMatrix.from_peaks([peaks[i] for i in order])


def synthetic_queries(
    library: PeakMatrix, n: int, *, seed: int = 1, impurity_fraction: float = 0.15
) -> tuple[PeakMatrix, np.ndarray]:
    """``n`` measured versions of library spectra; returns the queries and their sources."""
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(library), size=n, replace=False)
    out = []
    for source in sources:
        mz, ab = library.row(int(source))
        mz = mz.astype(np.float64)
        rel = ab / ab.max()
        # Counting noise: relative error grows as abundance falls.
        ab = ab * rng.lognormal(0.0, 0.08 + 0.12 * (1 - rel) ** 2, size=ab.size)
        lost = (rel < 0.02) & (rng.random(ab.size) < 0.5)
        mz, ab = mz[~lost], ab[~lost]
        if rng.random() < impurity_fraction:
            other_mz, other_ab = library.row(int(rng.integers(len(library))))
            mz = np.concatenate([mz, other_mz])
            ab = np.concatenate([ab, other_ab * rng.uniform(0.05, 0.25) * ab.max() / 999])
        noise = rng.integers(1, 6)
        mz = np.concatenate([mz, rng.choice(BACKGROUND_IONS, size=noise)])
        ab = np.concatenate([ab, ab.max() * 0.02 * rng.random(noise)])
        low = rng.choice([35, 40, 45, 50])
        keep = mz >= low
        if keep.sum() == 0:
            keep[:] = True
        out.append(search_peaks(mz[keep], ab[keep]))
    return PeakMatrix.from_peaks(out), sources
