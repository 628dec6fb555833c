"""QA result records: one criterion (value, limit, pass/fail) and one QA result (a verdict).

Every QA check of gcms (tune evaluation, alkane-ladder and check-standard suitability)
returns a :class:`QAResult`: the instrument, what was checked, the evidence file and its
SHA-256, the profile that set the limits, and one :class:`Criterion` per check. The same
record is stored in the QA history and charted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["QA_KINDS", "Criterion", "Limit", "QAKind", "QAResult"]

#: What a QA result is about: a tune spectrum, an alkane ladder, a check standard.
QAKind = Literal["tune", "ladder", "check"]
QA_KINDS: tuple[str, ...] = ("tune", "ladder", "check")


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class Limit:
    """An acceptance interval; ``None`` leaves a side open.

    ``low_inclusive``/``high_inclusive`` say whether the bound itself passes: EPA's
    "< 2 %" is ``Limit(high=2, high_inclusive=False)``, "5-9 %" is ``Limit(5, 9)``.
    """

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(float(value)):
                raise ValueError(f"limit {name} must be finite, got {value!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"limit low {self.low:g} is above high {self.high:g}")

    @property
    def is_open(self) -> bool:
        """No bound on either side (the value is recorded, not judged)."""
        return self.low is None and self.high is None

    def contains(self, value: float) -> bool:
        """Whether ``value`` passes (NaN never does)."""
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low
                                                          and not self.low_inclusive)):
            return False
        return not (self.high is not None and (value > self.high or (
            value == self.high and not self.high_inclusive)))

    def text(self, unit: str = "") -> str:
        """The limit as a lab writes it: ``10-80 %``, ``< 2 %``, ``>= 40 %``."""
        suffix = f" {unit}" if unit else ""
        low, high = self.low, self.high
        if low is None and high is None:
            return "recorded, no limit"
        if low is not None and high is not None:
            if low == high:
                return f"{_number(low)}{suffix}"
            if self.low_inclusive and self.high_inclusive:
                return f"{_number(low)}-{_number(high)}{suffix}"
            left = ">=" if self.low_inclusive else ">"
            right = "<=" if self.high_inclusive else "<"
            return f"{left} {_number(low)} and {right} {_number(high)}{suffix}"
        if low is not None:
            return f"{'>=' if self.low_inclusive else '>'} {_number(low)}{suffix}"
        return f"{'<=' if self.high_inclusive else '<'} {_number(high)}{suffix}"

    def replace(self, **changes: Any) -> Limit:
        """Return a copy with some bounds changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One QA criterion as evaluated: what, the value, the limit and the outcome.

    Parameters
    ----------
    key
        Stable machine name (``"abundance_219"``): the metric name in the QA history
        and on control charts.
    name
        What a reader sees: ``"m/z 219 relative to m/z 69"``.
    value
        The measured value (``None`` when it could not be measured).
    unit
        ``"%"``, ``"u"``, ``"V"`` ...
    limit
        The acceptance interval; :attr:`limit_text` is its wording.
    passed
        True / False, or ``None`` when not judged (no value, or an open limit).
    required
        Whether a criterion that could not be judged fails the result.
    note
        Why, when the outcome needs a word (``"m/z 442 is the base peak"``).
    wording
        The limit as the standard words it (``"base peak, or > 50 % of m/z 442"``);
        default the limit's own text.
    """

    key: str
    name: str
    value: float | None
    unit: str
    limit: Limit
    passed: bool | None
    required: bool = True
    note: str = ""
    wording: str = ""

    @property
    def limit_text(self) -> str:
        """The limit as words."""
        return self.wording or self.limit.text(self.unit)

    @property
    def failed(self) -> bool:
        """Failed, or required and not judged."""
        return self.passed is False or (self.passed is None and self.required)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``value`` None when not measured)."""
        value = self.value
        if value is not None and not math.isfinite(value):
            value = None
        return {
            "key": self.key,
            "name": self.name,
            "value": value,
            "unit": self.unit,
            "limit": self.limit_text,
            "low": self.limit.low,
            "high": self.limit.high,
            "low_inclusive": self.limit.low_inclusive,
            "high_inclusive": self.limit.high_inclusive,
            "passed": self.passed,
            "required": self.required,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Criterion:
        """Inverse of :meth:`to_dict`."""
        limit = Limit(data.get("low"), data.get("high"), data.get("low_inclusive", True),
                      data.get("high_inclusive", True))
        unit = data.get("unit", "")
        wording = data.get("limit", "")
        return cls(key=data["key"], name=data["name"], value=data.get("value"), unit=unit,
                   limit=limit, passed=data.get("passed"), required=data.get("required", True),
                   note=data.get("note", ""),
                   wording="" if wording == limit.text(unit) else wording)


@dataclass(frozen=True, slots=True)
class QAResult:
    """The outcome of one QA check on one instrument.

    ``verdict`` is ``"pass"`` when no criterion :attr:`Criterion.failed`, else
    ``"fail"``. ``source`` describes the evidence file (``path``, ``sha256``,
    ``sample_name``, ``format``); ``profile`` the instrument profile that set the limits
    (``path``, ``sha256``, ``id``). ``performed_at`` is when the QA data were acquired
    (the run's acquisition time where known, else when the check was run), time-zone
    aware. ``details`` holds JSON-ready measurements behind the criteria (a ladder's
    members, a check standard's compounds) for the record; it is never judged.
    """

    kind: QAKind
    instrument_id: str
    criteria_set: str
    criteria: tuple[Criterion, ...]
    performed_at: datetime
    source: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in QA_KINDS:
            raise ValueError(f"QA kind must be one of {QA_KINDS}, got {self.kind!r}")
        performed = self.performed_at
        if performed.tzinfo is None:
            performed = performed.replace(tzinfo=timezone.utc)
        object.__setattr__(self, "performed_at", performed)
        object.__setattr__(self, "criteria", tuple(self.criteria))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))
        object.__setattr__(self, "profile", MappingProxyType(dict(self.profile)))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        keys = [c.key for c in self.criteria]
        if len(set(keys)) != len(keys):
            raise ValueError(f"QA result has repeated criterion keys: {keys}")

    def __reduce__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["source"], values["profile"] = dict(self.source), dict(self.profile)
        values["details"] = dict(self.details)
        return (_rebuild, (values,))

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        """``"fail"`` if any criterion failed (or was required and could not be judged)."""
        return "fail" if any(c.failed for c in self.criteria) else "pass"

    @property
    def passed(self) -> bool:
        """Whether the verdict is pass."""
        return self.verdict == "pass"

    @property
    def failures(self) -> tuple[Criterion, ...]:
        """The criteria that failed."""
        return tuple(c for c in self.criteria if c.failed)

    def criterion(self, key: str) -> Criterion:
        """The criterion called ``key`` (``KeyError`` naming the known ones otherwise)."""
        for c in self.criteria:
            if c.key == key:
                return c
        raise KeyError(f"no criterion {key!r} (have: {', '.join(c.key for c in self.criteria)})")

    def to_dict(self) -> dict[str, Any]:
        """JSON form; :meth:`from_dict` is its inverse."""
        return {
            "kind": self.kind,
            "instrument_id": self.instrument_id,
            "criteria_set": self.criteria_set,
            "verdict": self.verdict,
            "performed_at": self.performed_at.isoformat(),
            "source": dict(self.source),
            "profile": dict(self.profile),
            "notes": list(self.notes),
            "criteria": [c.to_dict() for c in self.criteria],
            **({"details": dict(self.details)} if self.details else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QAResult:
        """Rebuild from :meth:`to_dict` output (the stored verdict is recomputed)."""
        return cls(
            kind=data["kind"],
            instrument_id=data["instrument_id"],
            criteria_set=data["criteria_set"],
            criteria=tuple(Criterion.from_dict(c) for c in data["criteria"]),
            performed_at=datetime.fromisoformat(data["performed_at"]),
            source=data.get("source", {}),
            profile=data.get("profile", {}),
            notes=tuple(data.get("notes", ())),
            details=data.get("details", {}),
        )


def _rebuild(values: dict[str, Any]) -> QAResult:
    return QAResult(**values)
