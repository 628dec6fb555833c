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

Unknown keys are refused by name, so a misspelt key never silently drops a line of
the report header.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcms.errors import ProfileError
from gcms.report.model import Laboratory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["POLICY_REQUIREMENTS", "LabProfile", "UNCONFIGURED", "load_lab_profile"]

#: The header a report gets when no lab profile is given: visibly not a lab's report.
UNCONFIGURED = Laboratory(name="[laboratory not configured: --lab LAB.toml]")

_LAB_KEYS = {"name", "address", "accreditation", "location", "contact", "logo"}
_REPORT_KEYS = {"translations", "languages"}
_POLICY_KEYS = {"require", "ca_certificate"}
#: What ``[policy] require`` may list: the meanings of a signature (21 CFR 11.50(a)(3)).
POLICY_REQUIREMENTS = ("authored", "reviewed", "approved")


@dataclass(frozen=True, slots=True)
class LabProfile:
    """A lab profile: the laboratory, its wording folder and default languages."""

    laboratory: Laboratory
    translations: str | None = None
    languages: tuple[str, ...] = ("en",)
    path: str | None = None
    requirements: tuple[str, ...] = ()
    ca_certificate: str | None = None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: expected non-empty text, got {value!r}")
    return value


def _lines(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ProfileError(f"{where}: expected text or a list of lines")
    return tuple(_text(v, where) for v in value)


def load_lab_profile(path: str | os.PathLike) -> LabProfile:
    """Read and check a lab profile; ``ProfileError`` names the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError(f"{path}: cannot read ({error.strerror or error})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path}: not a readable TOML lab profile ({error})") from None
    unknown = set(data) - {"schema", "laboratory", "report", "policy"}
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    if data.get("schema", "gcms-lab-profile/1") != "gcms-lab-profile/1":
        raise ProfileError(f"{path}: schema {data['schema']!r} is not gcms-lab-profile/1")
    lab = data.get("laboratory")
    if not isinstance(lab, dict):
        raise ProfileError(f"{path}: [laboratory] is missing")
    languages = {k: v for k, v in lab.items() if isinstance(v, dict)}
    unknown = set(lab) - _LAB_KEYS - set(languages)
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) in [laboratory]: "
                           f"{', '.join(sorted(unknown))}")
    logo = _profile_file(path, lab, "laboratory", "logo")
    localized = []
    for language, table in sorted(languages.items()):
        extra = set(table) - {"name", "address", "accreditation", "location"}
        if extra:
            raise ProfileError(f"{path}: unknown key(s) in [laboratory.{language}]: "
                               f"{', '.join(sorted(extra))}")
        where = f"{path}: laboratory.{language}"
        optional = tuple(_text(table[key], f"{where}.{key}") if key in table else None
                         for key in ("accreditation", "location"))
        localized.append((language, _text(table.get("name"), f"{where}.name"),
                          _lines(table.get("address", []), f"{where}.address"), *optional))
    laboratory = Laboratory(
        name=_text(lab.get("name"), f"{path}: laboratory.name"),
        address=_lines(lab.get("address", []), f"{path}: laboratory.address"),
        accreditation=lab.get("accreditation"), location=lab.get("location"),
        contact=lab.get("contact"), logo=logo, localized=tuple(localized))
    report = data.get("report", {})
    unknown = set(report) - _REPORT_KEYS
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) in [report]: {', '.join(sorted(unknown))}")
    translations = None
    if "translations" in report:
        folder = path.parent / _text(report["translations"], f"{path}: report.translations")
        if not folder.is_dir():
            raise ProfileError(f"{path}: report.translations {folder} is not a folder")
        translations = str(folder)
    langs = tuple(_lines(report.get("languages", ["en"]), f"{path}: report.languages"))
    requirements, ca = _policy(data.get("policy", {}), path)
    return LabProfile(laboratory, translations, langs, str(path), requirements, ca)


def _policy(policy: Any, path: Path) -> tuple[tuple[str, ...], str | None]:
    """``[policy]``: the signatures a report needs, and the lab CA certificate."""
    if not isinstance(policy, dict):
        raise ProfileError(f"{path}: [policy] must be a table")
    unknown = set(policy) - _POLICY_KEYS
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) in [policy]: {', '.join(sorted(unknown))}")
    require = _lines(policy.get("require", []), f"{path}: policy.require")
    wrong = [r for r in require if r not in POLICY_REQUIREMENTS]
    if wrong:
        raise ProfileError(f"{path}: policy.require {', '.join(wrong)} is not one of "
                           f"{', '.join(POLICY_REQUIREMENTS)}")
    ca = _profile_file(path, policy, "policy", "ca_certificate")
    return tuple(dict.fromkeys(require)), ca


def _profile_file(path: Path, table: dict, section: str, key: str) -> str | None:
    """The absolute path of a file ``table[key]`` names, relative to the profile."""
    if key not in table:
        return None
    named = path.parent / _text(table[key], f"{path}: {section}.{key}")
    if not named.is_file():
        raise ProfileError(f"{path}: {section}.{key} {named} does not exist")
    return str(named.resolve())
