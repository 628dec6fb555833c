"""gcms: an open GC-MS toolkit for forensic drug laboratories.

Read what GC-MS instruments write (:mod:`gcms.io`), find and deconvolute components,
search reference libraries with NIST-compatible scores, decide identifications with
explicit criteria, keep the chain of custody, and report.

The core types are :class:`Run` (one acquisition, scans in CSR form) and
:class:`Spectrum` (one mass spectrum with library metadata).
"""

from gcms.errors import FormatError, GcmsError
from gcms.run import PeakTable, Run, RunMetadata
from gcms.spectrum import Spectrum, nominal_mass

__version__ = "0.1.0"

__all__ = [
    "FormatError",
    "GcmsError",
    "PeakTable",
    "Run",
    "RunMetadata",
    "Spectrum",
    "__version__",
    "nominal_mass",
]
