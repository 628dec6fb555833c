"""What this installation of gcms runs on: its version, Python's, and every dependency's.

A laboratory validates a method on a set of software versions (ISO/IEC 17025:2017 §7.11.2:
software is validated before use; §7.8.2.1 f: the method used is identified), so each
report states the versions it was made with and ``gcms about`` prints them.
``requirements/validated.txt`` pins the set the test suite was validated with.

The dependencies "in use" are gcms's own requirements (from the installed package's
metadata, environment markers evaluated for this interpreter) and, recursively, theirs:
the packages that are actually imported to read, identify and report. Packages of the
optional extras (``gcms[test]``, ``gcms[gpu]``, ...) are listed apart, where installed.
"""

from __future__ import annotations

import platform
import re
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any

__all__ = ["about", "dependency_versions"]

_DISTRIBUTION = "gcms"


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 normalises it (``PyMassSpec`` -> ``pymassspec``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(distribution: str, extras: tuple[str, ...] = ()) -> list[str]:
    """The names ``distribution`` requires here (markers evaluated for ``extras``)."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        declared = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    names = []
    for text in declared:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None:
            names.append(requirement.name)
            continue
        environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
        if any(marker.evaluate(environment) for environment in environments):
            names.append(requirement.name)
    return names


def _closure(roots: list[str]) -> dict[str, str]:
    """``{name: installed version}`` of ``roots`` and everything they require, sorted."""
    found: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        key = _canonical(name)
        if key in found:
            continue
        try:
            found[key] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement that is not installed
        pending.extend(_requirements(name))
    return dict(sorted(found.items()))


@lru_cache(maxsize=1)
def _core() -> tuple[tuple[str, str], ...]:
    return tuple(_closure(_requirements(_DISTRIBUTION)).items())


def dependency_versions() -> dict[str, str]:
    """Installed version of every package gcms's core requirements pull in, by name.

    Names are normalised (PEP 503). Empty when gcms is not installed as a distribution
    (run from a bare source tree).
    """
    return dict(_core())


def _extras() -> dict[str, dict[str, str]]:
    try:
        provided = metadata.metadata(_DISTRIBUTION).get_all("Provides-Extra") or []
    except metadata.PackageNotFoundError:
        return {}
    core = dependency_versions()
    out = {}
    for extra in provided:
        names = [n for n in _requirements(_DISTRIBUTION, (extra,))
                 if _canonical(n) not in core]
        installed = {k: v for k, v in _closure(names).items() if k not in core}
        if installed:
            out[extra] = installed
    return out


def about(*, extras: bool = True) -> dict[str, Any]:
    """Versions of gcms, Python, the platform and every dependency in use.

    Returns
    -------
    dict
        ``gcms``, ``python`` (version and implementation), ``platform``,
        ``dependencies`` (:func:`dependency_versions`) and, with ``extras``,
        ``extras``: ``{extra: {name: version}}`` for the optional extras' packages that
        are installed beyond the core.
    """
    import gcms

    try:
        installed = metadata.version(_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        installed = None
    facts: dict[str, Any] = {
        "gcms": gcms.__version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{sys.platform}-{platform.machine()}",
        "dependencies": dependency_versions(),
    }
    if installed is not None and installed != gcms.__version__:
        facts["gcms_distribution"] = installed
    if extras:
        facts["extras"] = _extras()
    return facts
