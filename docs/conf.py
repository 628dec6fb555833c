"""Sphinx configuration of the gcms manual (Markdown pages through MyST, API from docstrings).

Build it strictly, as CI does::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""

import importlib.metadata
import importlib.util

project = "gcms"
author = "gcms developers"
copyright = "gcms developers, Apache-2.0"  # noqa: A001 - the name Sphinx reads
release = importlib.metadata.version("gcms")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "numpydoc",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: `{include}` of the benchmarks' README, heading anchors for cross-references
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: the signatures as written, the docstrings in numpydoc form
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# Nitpicky (-n) builds resolve every reference; the exceptions, each with its reason:
# the standard library's and other projects' names (the build is offline: no intersphinx)
_OTHERS = ("dataclasses|datetime|pathlib|os|io|json|typing|collections|enum|decimal|concurrent"
           "|numpy|np|scipy|h5py|matplotlib|numba|click|sqlalchemy|cryptography|dask|distributed")
nitpick_ignore_regex: list[tuple[str, str]] = [("py:.*", rf"({_OTHERS})\..*")]

html_theme = "furo"
html_title = f"gcms {release}"
html_static_path: list[str] = []
nitpick_ignore = [
    # module-level constants, documented where they are defined (their module's docstring)
    ("py:data", name)
    for name in (
        "NOMINAL_MASS_BOUNDARY", "BLEED_IONS", "BACKGROUND_IONS", "SENSITIVITY_SNR",
        "RESOLUTION_BANDWIDTH", "SHAPE_LIMITS", "CARRYOVER_RULE", "DEFAULT_PROFILE",
        "EI_MZ_MAX", "MAX_ISOTHERMAL_RESIDUAL_RI", "BaselineMethod", "SignalLookup",
        "gcms.identify.evidence.CARRYOVER_RULE", "gcms.retention.N_ALKANES",
    )
]
# private helpers, the simulator and the later stages (gcms.batch), which the API reference
# does not cover (the user guide does)
_LATER = "batch|qa|quantitation|custody|report|distributed|interop|review|sequence|demo|config"
nitpick_ignore_regex.append(("py:.*", rf"gcms\.(_|simulate\b|({_LATER})\b|.*\._).*"))

# An example abridged with "..." (JSON, TOML) is shown as written, not highlighted; broken
# links and references still fail the build.
suppress_warnings = ["misc.highlighting_failure"]


def _resolve_reexported(app, env, node, contnode):
    """Resolve a reference to a name documented where its package re-exports it.

    A module docstring says ``:func:`estimate_noise``` inside ``gcms.signal.noise``; the API
    reference documents that function once, as ``gcms.signal.estimate_noise`` (the package's
    public name). Try the target with the inner module parts left out, nearest first.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module = node.get("py:module") or ""
    full = target if target.startswith("gcms.") or not module else f"{module}.{target}"
    parts = full.split(".")
    domain = env.get_domain("py")
    for drop in range(1, len(parts) - 1):
        for start in range(len(parts) - 1 - drop, 0, -1):
            candidate = ".".join(parts[:start] + parts[start + drop:])
            if candidate in domain.objects:
                return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                           candidate, node, contnode)
    if node["reftype"] == "mod":  # a real module the reference has no page for: plain text
        for name in (full, target):
            try:
                if importlib.util.find_spec(name) is not None:
                    return contnode
            except (ImportError, ValueError):
                continue
    return None


def setup(app):
    """Register the resolver of re-exported names."""
    app.connect("missing-reference", _resolve_reexported)
