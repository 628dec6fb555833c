"""Working beside AMDIS and NIST MS Search: compare their results with gcms's.

:func:`compare` pairs an AMDIS ``.ELU``'s components (and NIST MS Search's hit lists
for them) with gcms's components of the same run and lists, row by row, both tools'
top hit, MF, and verdict (:mod:`gcms.interop.compare`). The readers and writers of
those tools' files are in :mod:`gcms.io` (``amdis_elu``, ``nist_hitlist``, ``msp``).
"""

from gcms.interop.compare import (
    ComparedComponent,
    Comparison,
    HitDifference,
    compare,
    compare_files,
    match_by_rt,
)

__all__ = ["ComparedComponent", "Comparison", "HitDifference", "compare", "compare_files",
           "match_by_rt"]
