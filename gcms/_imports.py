"""Single scipy routines without importing their whole subpackage (command start-up).

``from scipy.optimize import nnls`` runs ``scipy.optimize/__init__`` (its minimisers,
linear programming, root finding: 0.1-0.35 s on a 2-core machine), which a one-run
command (``gcms deconvolve RUN``) pays for one 10 x 2 fit of the noise model
(:func:`gcms.signal.noise.estimate_noise`). :func:`nnls` calls the same compiled
Lawson-Hanson solver that ``scipy.optimize.nnls`` calls (scipy's ``_slsqplib``
extension, loaded from its file) with the same arguments, so the results are the same
bits; where that extension is not there (another scipy), it falls back to
``scipy.optimize.nnls``. ``tests/test_import_budget.py`` checks both.

Reference: C. L. Lawson and R. J. Hanson, *Solving Least Squares Problems*, SIAM 1995,
ch. 23 (the NNLS algorithm), doi:10.1137/1.9781611971217.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from typing import Any, cast

import numpy as np

__all__ = ["nnls"]

_SOLVER: list[Any] = []  # [the compiled nnls, or None where it cannot be loaded]


def _compiled_nnls() -> Any:
    if not _SOLVER:
        solver = None
        try:
            spec = importlib.util.find_spec("scipy")
            folder = Path(spec.origin).parent / "optimize" if spec and spec.origin else None
            name = "scipy.optimize._slsqplib"
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = folder / f"_slsqplib{suffix}" if folder else None
                if path is not None and path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                    module_spec = importlib.util.spec_from_file_location(
                        name, path, loader=loader)
                    module = importlib.util.module_from_spec(  # a loader was given
                        cast(importlib.machinery.ModuleSpec, module_spec))
                    loader.exec_module(module)
                    solver = module.nnls
                    break
        except (ImportError, OSError, AttributeError):
            solver = None
        _SOLVER.append(solver)
    return _SOLVER[0]


def nnls(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """``scipy.optimize.nnls(a, b)`` (default iterations), without importing scipy.optimize.

    Returns
    -------
    x : ndarray
        The solution, ``x >= 0``.
    rnorm : float
        ``||a x - b||_2``.
    """
    solver = _compiled_nnls()
    # as scipy.optimize.nnls (scipy >= 1.15) prepares them
    a_c = np.asarray_chkfinite(a, dtype=np.float64, order="C")
    b_c = np.asarray_chkfinite(b, dtype=np.float64)
    if solver is not None and a_c.ndim == 2 and b_c.shape == (a_c.shape[0],):
        try:
            x, rnorm, info = solver(a_c, b_c, 3 * a_c.shape[1])
        except TypeError:  # another scipy's signature: scipy's own wrapper below
            pass
        else:
            if info == 3:
                raise RuntimeError("Maximum number of iterations reached.")
            return x, float(rnorm)
    from scipy.optimize import nnls as scipy_nnls

    return scipy_nnls(a, b)
