"""The one error tree of gcms.

Every error the library raises on purpose is a ``GcmsError``; callers (the CLI, the
batch runner) catch that family and report it, anything else is a bug::

    GcmsError
    ├── FormatError          an input file is unreadable or not what it claims to be
    │   └── NotARunError     a readable file of library spectra where a run was asked for
    ├── LibraryError         a reference library cannot be built, opened or searched
    ├── CriteriaError        an identification criteria profile is invalid
    ├── ProfileError         an instrument profile or quantitation method is invalid
    ├── QuantitationError    a quantity cannot be computed (no calibration, IS absent...)
    ├── CustodyError         the case store refuses an action
    │   └── TamperError      stored evidence, an audit entry or a signature does not verify
    └── MissingExtraError    an optional dependency is not installed (says which pip line)

Messages name the file (or object) first and then the problem, so that one line in a
batch log is enough to find and fix the input.
"""

from __future__ import annotations

__all__ = [
    "CriteriaError",
    "CustodyError",
    "FormatError",
    "GcmsError",
    "LibraryError",
    "MissingExtraError",
    "NotARunError",
    "ProfileError",
    "QuantitationError",
    "TamperError",
]


class GcmsError(Exception):
    """Base class of every error gcms raises on purpose."""


class FormatError(GcmsError, ValueError):
    """An input file is unreadable, truncated, inconsistent or of an unknown format."""


class NotARunError(FormatError):
    """A readable file that holds library spectra, not an acquisition (read its entries)."""


class LibraryError(GcmsError):
    """A reference library cannot be built, opened or searched."""


class CriteriaError(GcmsError, ValueError):
    """An identification criteria profile is invalid (names the key)."""


class ProfileError(GcmsError, ValueError):
    """An instrument profile or a quantitation method file is invalid (names the key)."""


class QuantitationError(GcmsError):
    """A quantity cannot be computed; the message says why."""


class CustodyError(GcmsError):
    """The case store refuses an action (unknown case, duplicate exhibit, ...)."""


class TamperError(CustodyError):
    """Stored evidence, an audit-log entry or a signature does not verify."""


class MissingExtraError(GcmsError, ImportError):
    """An optional dependency is missing; the message gives the exact install line."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package {module!r}: pip install 'gcms[{extra}]'"
        )
