"""Parity with NIST MS Search: our MF/RMF against NIST's for every hit we can score.

A hit of a NIST ``SRCRESLT.TXT`` (:mod:`gcms.io.nist_hitlist`) can be scored here when
the library it names (``Lib``) is one we hold, as compiled, with its entries in NIST's
order (``Id`` = 1-based position), and the query's spectrum is one we hold (by the name
of the ``Unknown``). Each such hit is scored with the project's identity and reverse
match factors (:func:`gcms.library.scores.identity_match_factor`,
:func:`~gcms.library.scores.reverse_match_factor`; Stein & Scott, JASMS 5 (1994) 859)
and compared with NIST's numbers. Every other hit is counted, with the reason it could
not be scored (the library or the query spectrum not held), so that a summary over "all
the NIST output" says how much of it was actually compared.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gcms.io import nist_hitlist
from gcms.library.scores import identity_match_factor, reverse_match_factor
from gcms.library.store import Library
from gcms.spectrum import Spectrum

__all__ = ["ParityReport", "nist_parity"]


@dataclass(slots=True)
class ParityReport:
    """Per file, what was compared; per scored hit, NIST's and our MF and RMF."""

    files: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts and the max and mean absolute MF and RMF differences over scored hits."""
        d_mf = np.array([abs(h["ours_mf"] - h["nist_mf"]) for h in self.hits], dtype=float)
        d_rmf = np.array([abs(h["ours_rmf"] - h["nist_rmf"]) for h in self.hits], dtype=float)
        unscored: Counter[str] = Counter()
        for f in self.files:
            unscored.update(f["unscored"])
        return {
            "files": len(self.files), "hits": sum(f["hits"] for f in self.files),
            "scored": len(self.hits), "unscored": dict(unscored),
            "max_abs_mf": float(d_mf.max()) if d_mf.size else None,
            "mean_abs_mf": float(d_mf.mean()) if d_mf.size else None,
            "max_abs_rmf": float(d_rmf.max()) if d_rmf.size else None,
            "mean_abs_rmf": float(d_rmf.mean()) if d_rmf.size else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"summary": self.summary(), "files": self.files, "hits": self.hits}


def nist_parity(paths: Iterable[str | os.PathLike], *, libraries: Mapping[str, Library],
                queries: Mapping[str, Spectrum]) -> ParityReport:
    """Score every hit of the NIST result files ``paths`` that we can (module docstring).

    ``libraries`` maps a NIST library name (the hit's ``Lib``) to the compiled library
    in NIST's entry order; ``queries`` maps a query name (the ``Unknown``) to its
    spectrum.
    """
    report = ParityReport()
    for path in paths:
        read = nist_hitlist.read(path)
        unscored: Counter[str] = Counter()
        n_hits = 0
        for hit_list in read.hit_lists:
            query = queries.get(hit_list.query or "")
            for hit in hit_list.hits:
                n_hits += 1
                library = libraries.get(hit.library or "")
                if library is None:
                    unscored[f"library {hit.library!r} not held"] += 1
                    continue
                if query is None:
                    unscored[f"query spectrum {hit_list.query!r} not held"] += 1
                    continue
                if not 1 <= hit.library_id <= len(library):
                    unscored[f"Id outside library {hit.library!r}"] += 1
                    continue
                reference = library.peaks.row(hit.library_id - 1)
                report.hits.append({
                    "file": Path(path).name, "query": hit_list.query, "rank": hit.rank,
                    "name": hit.name, "library": hit.library, "id": hit.library_id,
                    "nist_mf": hit.match_factor, "ours_mf": identity_match_factor(
                        query, reference),
                    "nist_rmf": hit.reverse_match_factor, "ours_rmf": reverse_match_factor(
                        query, reference),
                })
        report.files.append({"file": Path(path).name, "hit_lists": len(read.hit_lists),
                             "hits": n_hits, "scored": n_hits - sum(unscored.values()),
                             "unscored": dict(unscored)})
    return report
