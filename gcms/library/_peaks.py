"""Spectra as NIST MS Search sees them, packed for array algebra (internal).

Every spectrum that is scored, query or library entry, goes through the same
preprocessing first (:func:`search_peaks`):

1. nominal masses, ``ceil(m/z - 0.649)``, keeping the largest intensity when two peaks
   fall in the same unit bin (:meth:`gcms.Spectrum.nominal`, as MS Search does for EI);
2. abundances scaled so that the base peak is 999 and rounded half up to integers, the
   form in which MS Search stores and compares spectra;
3. peaks whose rounded abundance is 0 are dropped. MS Search keeps them as "trace
   peaks", but a zero abundance gives a zero weight in every term below, so dropping
   them only removes ratio pairs that would have been undefined (0/0).

Many spectra are then packed into a :class:`PeakMatrix`: CSR arrays (``indptr``,
``mz``, ``abundance``), rows sorted by m/z, which is also the layout of the compiled
HDF5 library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gcms.spectrum import Spectrum, nominal_mass

__all__ = ["BASE_PEAK_ABUNDANCE", "PeakMatrix", "search_peaks"]

#: Abundance of the base peak after normalisation, as in MS Search (integer scale 0-999).
BASE_PEAK_ABUNDANCE = 999

#: Largest nominal m/z the packed arrays hold (uint16 storage in the library file).
MAX_NOMINAL_MZ = 65_535


def search_peaks(mz: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nominal-mass, 999-normalised, integer-rounded peaks of one spectrum.

    Parameters
    ----------
    mz, intensity
        Peak list (any order). Intensities must be finite and >= 0.

    Returns
    -------
    (mz, abundance)
        int64 nominal m/z (ascending, unique) and float64 integer-valued abundances
        in 1..999; empty arrays when no peak is positive.

    Raises
    ------
    ValueError
        Negative or non-finite intensity, or a nominal m/z outside 1..65535.
    """
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if mz.shape != intensity.shape or mz.ndim != 1:
        raise ValueError(f"mz and intensity must be 1-D of one length, got {mz.shape}, "
                         f"{intensity.shape}")
    if not (np.isfinite(mz).all() and np.isfinite(intensity).all()):
        raise ValueError("peak list holds NaN or infinite values")
    if (intensity < 0).any():
        raise ValueError(f"negative intensity ({intensity.min():g})")
    keep = intensity > 0
    masses = nominal_mass(mz[keep])
    if masses.size and (masses.min() < 1 or masses.max() > MAX_NOMINAL_MZ):
        raise ValueError(f"m/z outside 1..{MAX_NOMINAL_MZ} "
                         f"({masses.min()}..{masses.max()})")
    unique, inverse = np.unique(masses, return_inverse=True)
    top = np.zeros(unique.size, dtype=np.float64)
    np.maximum.at(top, inverse, intensity[keep])
    if not unique.size:
        return unique.astype(np.int64), top
    abundance = np.floor(top * (BASE_PEAK_ABUNDANCE / top.max()) + 0.5)
    nonzero = abundance > 0
    return unique[nonzero].astype(np.int64), abundance[nonzero]


@dataclass(frozen=True, slots=True, eq=False)
class PeakMatrix:
    """Preprocessed spectra in CSR form: row ``i`` holds ``mz[indptr[i]:indptr[i+1]]``.

    Rows are sorted by m/z and hold at least one peak; abundances are integers 1..999
    stored as float64 (exact). Arrays are read-only.
    """

    indptr: np.ndarray
    mz: np.ndarray
    abundance: np.ndarray

    def __post_init__(self) -> None:
        indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        mz = np.ascontiguousarray(self.mz, dtype=np.int64)
        abundance = np.ascontiguousarray(self.abundance, dtype=np.float64)
        if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or indptr[-1] != mz.size:
            raise ValueError("indptr must start at 0 and end at the number of peaks")
        if mz.shape != abundance.shape:
            raise ValueError(f"{mz.size} m/z values but {abundance.size} abundances")
        if indptr.size > 1 and (np.diff(indptr) < 1).any():
            raise ValueError("every spectrum needs at least one peak")
        for name, array in (("indptr", indptr), ("mz", mz), ("abundance", abundance)):
            if array.flags.writeable:
                array = array.view()
                array.flags.writeable = False
            object.__setattr__(self, name, array)

    @classmethod
    def from_peaks(cls, peaks: Sequence[tuple[np.ndarray, np.ndarray]]) -> PeakMatrix:
        """Pack already preprocessed ``(mz, abundance)`` pairs (from :func:`search_peaks`)."""
        lengths = np.fromiter((len(m) for m, _ in peaks), dtype=np.int64, count=len(peaks))
        indptr = np.zeros(len(peaks) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if not peaks:
            return cls(indptr, np.zeros(0, np.int64), np.zeros(0, np.float64))
        mz = np.concatenate([np.asarray(m, dtype=np.int64) for m, _ in peaks])
        abundance = np.concatenate([np.asarray(a, dtype=np.float64) for _, a in peaks])
        return cls(indptr, mz, abundance)

    @classmethod
    def from_spectra(cls, spectra: Sequence[Spectrum]) -> PeakMatrix:
        """Preprocess and pack spectra (raises ValueError for one without peaks)."""
        peaks = []
        for index, spectrum in enumerate(spectra):
            mz, abundance = search_peaks(spectrum.mz, spectrum.intensity)
            if not mz.size:
                label = spectrum.name or spectrum.source_entry or f"#{index}"
                raise ValueError(f"spectrum {label!r} has no peak with positive intensity")
            peaks.append((mz, abundance))
        return cls.from_peaks(peaks)

    def __len__(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def nnz(self) -> int:
        """Total number of peaks."""
        return int(self.mz.size)

    @property
    def row_of_peak(self) -> np.ndarray:
        """Row index of every peak (int64, length ``nnz``)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))

    @property
    def first_mz(self) -> np.ndarray:
        """Lowest m/z of every row."""
        return self.mz[self.indptr[:-1]]

    @property
    def last_mz(self) -> np.ndarray:
        """Highest m/z of every row."""
        return self.mz[self.indptr[1:] - 1]

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mz, abundance)`` of row ``i``."""
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.mz[lo:hi], self.abundance[lo:hi]

    def take(self, rows: np.ndarray) -> PeakMatrix:
        """A new matrix holding ``rows`` in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        lengths = stops - starts
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        elements = expand_ranges(starts, lengths)
        return PeakMatrix(indptr, self.mz[elements], self.abundance[elements])


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n), without a Python loop.

    Works on NumPy and CuPy arrays alike (the result lives where ``starts`` does).
    """
    xp: Any = np
    if type(starts).__module__.split(".")[0] == "cupy":
        import cupy

        xp = cupy
    lengths = xp.asarray(lengths, dtype=xp.int64)
    starts = xp.asarray(starts, dtype=xp.int64)
    total = int(lengths.sum())
    if total == 0:
        return xp.zeros(0, dtype=xp.int64)
    nonempty = lengths > 0
    firsts = starts[nonempty]
    counts = lengths[nonempty]
    heads = xp.cumsum(counts) - counts
    # Steps of +1 inside a range; at the head of each range, the jump from the previous
    # range's last element to this range's first.
    out = xp.ones(total, dtype=xp.int64)
    jumps = xp.empty_like(firsts)
    jumps[0] = firsts[0]
    jumps[1:] = firsts[1:] - (firsts[:-1] + counts[:-1] - 1)
    out[heads] = jumps
    return xp.cumsum(out)
