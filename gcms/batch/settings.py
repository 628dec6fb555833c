"""Knobs of a batch run, and the fingerprint that keys its cache."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from gcms.deconvolution import DeconvolutionSettings
from gcms.library import SearchSettings
from gcms.retention import LadderSettings

__all__ = ["PASS1_FORMAT", "BatchSettings"]

#: Version of the pass-1 record (components + hits) stored in the cache; bumped when
#: its content changes so that older cache files are recomputed, never misread.
PASS1_FORMAT = 1


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """How each run is processed in pass 1 (read, deconvolute, search; find the ladder).

    Attributes
    ----------
    deconvolution
        :class:`gcms.deconvolution.DeconvolutionSettings` (AMDIS-style knobs).
    search
        :class:`gcms.library.SearchSettings` (identity MF ranking, exact presearch).
    top
        Library hits kept per component: the candidates each component is judged as.
    ladder
        :class:`gcms.retention.LadderSettings` for ladder runs.
    ri_method
        ``"van-den-dool-kratz"`` (temperature programs) or ``"kovats"`` (isothermal,
        dead time estimated from the ladder).
    ladder_max_age_hours
        A ladder older than this (acquisition times) is reported as not applicable to a
        run (None: no age limit).
    """

    deconvolution: DeconvolutionSettings = field(default_factory=DeconvolutionSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    top: int = 10
    ladder: LadderSettings = field(default_factory=LadderSettings)
    ri_method: Literal["van-den-dool-kratz", "kovats"] = "van-den-dool-kratz"
    ladder_max_age_hours: float | None = None

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ValueError(f"top must be >= 1, got {self.top}")
        if self.ri_method not in ("van-den-dool-kratz", "kovats"):
            raise ValueError(f"ri_method must be 'van-den-dool-kratz' or 'kovats', "
                             f"got {self.ri_method!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "deconvolution": self.deconvolution.to_dict(),
            "search": self.search.to_dict(),
            "top": self.top,
            "ladder": dataclasses.asdict(self.ladder),
            "ri_method": self.ri_method,
            "ladder_max_age_hours": self.ladder_max_age_hours,
        }

    def pass1_fingerprint(self) -> str:
        """SHA-256 of everything that changes a pass-1 record (canonical JSON)."""
        from gcms import __version__

        content = {"format": PASS1_FORMAT, "gcms": __version__,
                   **{k: v for k, v in self.to_dict().items() if k != "ladder_max_age_hours"}}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
