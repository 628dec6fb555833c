"""What ``gcms info`` reports about a file: one plain dictionary per run or spectra file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from gcms import io
from gcms.errors import FormatError, NotARunError
from gcms.io._common import sha256_file

__all__ = ["describe"]


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """Summarise a run file (scans, ranges, TIC maximum, metadata) or a spectra file.

    Returns
    -------
    dict
        For a run, :meth:`gcms.Run.summary` (keys ``path``, ``format``, ``n_scans``,
        ``rt_range_s``, ``mz_range``, ``tic_max``, ``sha256`` and the metadata). For a
        library or spectrum file: ``path``, ``format``, ``n_spectra``, ``n_skipped``,
        ``skipped`` (first reasons), ``mz_range`` and ``sha256``.

    Raises
    ------
    FormatError
        The file cannot be read as either.
    """
    path = Path(path)
    fmt = next(f for f in io.FORMATS if f.name == io.sniff(path))
    if fmt.holds != "spectra":
        try:
            summary = io.read(path, format=fmt.name).summary()
            summary["path"] = str(path)
            return summary
        except NotARunError:
            pass  # a library file in a format that holds both: describe its entries
    report = io.read_entries(path, format=fmt.name)
    if not report.spectra and report.skipped:
        raise FormatError(f"{path}: no readable spectrum ({report.skipped[0].reason})")
    low = min((float(s.mz[0]) for s in report.spectra if len(s)), default=None)
    high = max((float(s.mz[-1]) for s in report.spectra if len(s)), default=None)
    return {
        "path": str(path),
        "format": fmt.name,
        "n_spectra": len(report.spectra),
        "n_skipped": len(report.skipped),
        "skipped": [str(s) for s in report.skipped[:10]],
        "mz_range": None if low is None else [low, high],
        "n_peaks": int(np.sum([len(s) for s in report.spectra])),
        "sha256": sha256_file(path) if path.is_file() else None,
    }
