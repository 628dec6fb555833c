"""Layers point one way: a module of a lower layer never imports one of a higher layer.

Read from the source (an AST walk over gcms/), so every import counts: at the top of a
module, inside a function (a lazy import is still a dependency) and under
``TYPE_CHECKING``. Imports within one layer are free. A module that belongs to no layer
fails the test: a new package says where it stands here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gcms

ROOT = Path(gcms.__file__).parent

#: Lowest first: core types -> io, signal -> deconvolution, library, retention ->
#: identify -> batch -> its steps (QA, quantitation) -> custody, report -> applications.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core types", (
        "gcms",  # the package itself: its __init__ only
        "gcms._arrays", "gcms._files", "gcms._imports", "gcms._json", "gcms.about",
        "gcms.config", "gcms.errors", "gcms.identifiers", "gcms.results", "gcms.run",
        "gcms.sequence", "gcms.spectrum", "gcms.units")),
    ("io, signal", (
        "gcms.io", "gcms.signal",
        "gcms.info", "gcms.plot",  # a Run's facts and plots
        "gcms.simulate")),  # synthetic runs, written through gcms.io
    ("deconvolution, library, retention", (
        "gcms.deconvolution", "gcms.library", "gcms.retention")),
    ("identify", ("gcms.identify",)),
    ("batch", (
        "gcms.batch",
        "gcms.interop")),  # gcms components beside AMDIS and NIST's, judged by a profile
    ("batch steps", ("gcms.qa", "gcms.quantitation")),
    ("custody, report", (
        "gcms.custody", "gcms.report",
        "gcms.distributed",  # archive batches and re-screening, recorded in the store
        "gcms.profiling")),  # impurity profiles (quantitation's integration), in the store
    ("applications", (
        "gcms.review",  # the review workstation (as cli/ is for the terminal)
        "gcms.demo",  # the bundled demo: data, never a fallback of a lower layer
        "gcms._kernels")),  # compiles the kernels by running the demo through them
)

#: (importer, imported) pairs allowed against the rule, each with its reason. A pair
#: that no longer occurs fails the test too, so that the list only ever shrinks.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """Every gcms (or gcms_cli) module ``path`` imports, with its line."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:  # `from gcms import demo` imports gcms.demo
                full = f"{source}.{alias.name}"
                out.append((node.lineno, full if _is_module(full) else source))
    return [(line, name) for line, name in out
            if name.split(".")[0] in ("gcms", "gcms_cli", "cli")]


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of ``module`` (its longest listed prefix), else None."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or (prefix != "gcms" and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


SOURCES = sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_layer():
    assert SOURCES
    assert [_module_name(p) for p in SOURCES if layer_of(_module_name(p)) is None] == []


def test_no_module_imports_a_higher_layer():
    violations, seen = [], set()
    for path in SOURCES:
        module = _module_name(path)
        for line, imported in _imports(path):
            if imported.split(".")[0] != "gcms":
                violations.append(f"{module}:{line} imports the command line {imported}")
                continue
            if layer_of(module) is None or layer_of(imported) is None:
                violations.append(f"{module}:{line} imports {imported}: one of them has no "
                                  "layer (test_every_module_has_a_layer)")
                continue
            if layer_of(module) >= layer_of(imported):
                continue
            exception = next(((a, b) for a, b in KNOWN_EXCEPTIONS
                              if module == a and (imported == b or imported.startswith(b + "."))),
                             None)
            if exception is not None:
                seen.add(exception)
                continue
            violations.append(
                f"{module}:{line} ({LAYERS[layer_of(module)][0]}) imports {imported} "
                f"({LAYERS[layer_of(imported)][0]})")
    assert violations == []
    assert set(KNOWN_EXCEPTIONS) - seen == set(), "a known exception no longer occurs"


@pytest.mark.parametrize(("module", "layer"), [
    ("gcms", "core types"), ("gcms.run", "core types"), ("gcms.signal.noise", "io, signal"),
    ("gcms.library.targeted", "deconvolution, library, retention"),
    ("gcms.identify.sequence", "identify"), ("gcms.batch.pass2", "batch"),
    ("gcms.qa.gate", "batch steps"), ("gcms.report.pdf", "custody, report"),
    ("gcms.demo", "applications"), ("gcms.nothing_here", None),
])
def test_layer_map_reads_as_written(module, layer):
    index = layer_of(module)
    assert (None if index is None else LAYERS[index][0]) == layer


def test_the_check_sees_lazy_relative_and_type_only_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import criteria\n"
        "from gcms import demo, errors\n"
        "if TYPE_CHECKING:\n"
        "    from gcms.batch import RunAnalysis\n"
        "def late():\n"
        "    import gcms.report.pdf\n"
        "    from ..qa import gate\n"
        "    from gcms_cli.main import cli\n", encoding="utf-8")
    assert sorted(name for _, name in _imports(probe, "gcms.identify.probe")) == [
        "gcms.batch", "gcms.demo", "gcms.errors", "gcms.identify.criteria", "gcms.qa.gate",
        "gcms.report.pdf", "gcms_cli.main"]
