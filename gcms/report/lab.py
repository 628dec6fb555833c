"""The laboratory profile: who issues reports (TOML, one file per laboratory).

::

    schema = "gcms-lab-profile/1"

    [laboratory]
    name = "Forensic Chemistry Laboratory"
    address = ["1 Science Road", "Example City"]
    accreditation = "ISO/IEC 17025:2017, accreditation no. T-0001 (national body)"
    location = "Drug chemistry, room 2.14"      # where the testing is done (§7.8.2.1 c)
    contact = "+00 000 0000"
    logo = "logo.png"                             # relative to this file

    [laboratory.ar]                               # the laboratory in Arabic
    name = "مختبر الكيمياء الجنائية"
    address = ["١ طريق العلوم"]
    accreditation = "ISO/IEC 17025:2017، شهادة اعتماد رقم T-0001"   # optional
    location = "قسم كيمياء المخدرات، الغرفة 2.14"                     # optional

    [report]
    translations = "translations"                 # folder of the lab's own wording
    languages = ["en"]                            # default --language

    [policy]
    require = ["authored", "reviewed"]            # signatures a report needs to be issued
    ca_certificate = "lab-ca.pem"                 # the lab CA analyst certificates chain to

``[policy] require`` lists signature meanings (authored, reviewed, approved) every result
the report shows must carry in the case store, or the report itself must carry, before
``gcms report`` issues it; until then it is made as a DRAFT (ISO/IEC 17025:2017 §7.8.1.1
and §7.7: results reviewed before release, as the lab's procedure says).
``ca_certificate`` is the lab CA (``gcms report ca new``) whose analyst certificates
``gcms report verify --lab`` accepts as naming their user.

Unknown keys are refused by name (with the closest known one, :func:`gcms.config.from_table`),
so a misspelt key never silently drops a line of the report header.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcms.config import from_table, read_toml
from gcms.errors import ProfileError
from gcms.report.model import Laboratory

__all__ = ["POLICY_REQUIREMENTS", "LabProfile", "UNCONFIGURED", "load_lab_profile"]

#: The header a report gets when no lab profile is given: visibly not a lab's report.
UNCONFIGURED = Laboratory(name="[laboratory not configured: --lab LAB.toml]")

#: The schema this module reads (``schema = ...``, optional).
SCHEMA = "gcms-lab-profile/1"
#: What ``[policy] require`` may list: the meanings of a signature (21 CFR 11.50(a)(3)).
POLICY_REQUIREMENTS = ("authored", "reviewed", "approved")


@dataclass(frozen=True, slots=True)
class LabProfile:
    """A lab profile: the laboratory, its wording folder and default languages.

    ``path`` and ``sha256`` identify the file and its exact bytes.
    """

    laboratory: Laboratory
    translations: str | None = None
    languages: tuple[str, ...] = ("en",)
    path: str | None = None
    requirements: tuple[str, ...] = ()
    ca_certificate: str | None = None
    sha256: str | None = None


def _text(origin: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{origin}: {key}: expected non-empty text, got {value!r}")
    return value


def _lines(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ProfileError(f"{origin}: {key}: expected text or a list of lines")
    return tuple(_text(origin, key, v) for v in value)


def _table(origin: str, key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{origin}: {key}: must be a table, got {value!r}")
    return value


_TEXT = {"convert": _text}
_LINES = {"convert": _lines}


@dataclass(frozen=True, slots=True)
class _Laboratory:
    """``[laboratory]`` without its language tables."""

    name: str = field(metadata=_TEXT)
    address: tuple[str, ...] = field(default=(), metadata=_LINES)
    accreditation: str | None = None
    location: str | None = None
    contact: str | None = None
    logo: str | None = field(default=None, metadata=_TEXT)


@dataclass(frozen=True, slots=True)
class _Localized:
    """``[laboratory.LANGUAGE]``: the laboratory in another language."""

    name: str = field(metadata=_TEXT)
    address: tuple[str, ...] = field(default=(), metadata=_LINES)
    accreditation: str | None = field(default=None, metadata=_TEXT)
    location: str | None = field(default=None, metadata=_TEXT)


@dataclass(frozen=True, slots=True)
class _Report:
    translations: str | None = field(default=None, metadata=_TEXT)
    languages: tuple[str, ...] = field(default=("en",), metadata=_LINES)


@dataclass(frozen=True, slots=True)
class _Policy:
    require: tuple[str, ...] = field(default=(), metadata=_LINES)
    ca_certificate: str | None = field(default=None, metadata=_TEXT)


@dataclass(frozen=True, slots=True)
class _LabFile:
    laboratory: Mapping[str, Any] = field(metadata={"convert": _table})
    schema: str = SCHEMA
    report: _Report = field(default_factory=_Report)
    policy: _Policy = field(default_factory=_Policy)


def load_lab_profile(path: str | os.PathLike) -> LabProfile:
    """Read and check a lab profile; ``ProfileError`` names the file and the key.

    The profile records the file's path and the SHA-256 of its bytes.
    """
    document = read_toml(path, error=ProfileError)
    path, origin = Path(path), document.source
    parsed = from_table(_LabFile, document.data, origin=origin, error=ProfileError)
    if parsed.schema != SCHEMA:
        raise ProfileError(f"{origin}: schema {parsed.schema!r} is not {SCHEMA}")
    table = parsed.laboratory
    languages = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    lab = from_table(_Laboratory, {k: v for k, v in table.items() if k not in languages},
                     origin=origin, where="laboratory", error=ProfileError)
    localized = []
    for language, entry in sorted(languages.items()):
        other = from_table(_Localized, entry, origin=origin, where=f"laboratory.{language}",
                           error=ProfileError)
        localized.append((language, other.name, other.address, other.accreditation,
                          other.location))
    laboratory = Laboratory(
        name=lab.name, address=lab.address, accreditation=lab.accreditation,
        location=lab.location, contact=lab.contact,
        logo=_profile_file(path, lab.logo, "laboratory.logo"), localized=tuple(localized))
    translations = None
    if parsed.report.translations is not None:
        folder = path.parent / parsed.report.translations
        if not folder.is_dir():
            raise ProfileError(f"{path}: report.translations {folder} is not a folder")
        translations = str(folder)
    requirements, ca = _policy(parsed.policy, path)
    return LabProfile(laboratory, translations, parsed.report.languages, origin, requirements,
                      ca, document.sha256)


def _policy(policy: _Policy, path: Path) -> tuple[tuple[str, ...], str | None]:
    """``[policy]``: the signatures a report needs, and the lab CA certificate."""
    wrong = [r for r in policy.require if r not in POLICY_REQUIREMENTS]
    if wrong:
        raise ProfileError(f"{path}: policy.require {', '.join(wrong)} is not one of "
                           f"{', '.join(POLICY_REQUIREMENTS)}")
    ca = _profile_file(path, policy.ca_certificate, "policy.ca_certificate")
    return tuple(dict.fromkeys(policy.require)), ca


def _profile_file(path: Path, name: str | None, key: str) -> str | None:
    """The absolute path of a file a profile key names, relative to the profile."""
    if name is None:
        return None
    named = path.parent / name
    if not named.is_file():
        raise ProfileError(f"{path}: {key} {named} does not exist")
    return str(named.resolve())
