"""Start-up budget: what a command imports, checked structurally (never by timing).

Issue 17 ("no cold start"): a one-run command should cost little beyond its work. The
heavy packages (scipy.optimize, matplotlib, sqlalchemy, cryptography, pyhanko, fpdf,
matchms, pyteomics; numba where no kernel runs) are imported by the functions that use
them, and a command checks and loads only the compiled kernels it runs. Each check runs
in a fresh interpreter and reads ``sys.modules`` at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gcms.demo import demo_folder, demo_library_path

#: Never needed to start the command line, read a run or list a command's options.
HEAVY = ("scipy", "numba", "matplotlib", "sqlalchemy", "cryptography", "pyhanko", "fpdf",
         "matchms", "pyteomics", "h5py", "pybaselines", "starlette", "jinja2", "plotly",
         "dask", "concurrent.futures.process")
#: Not needed by a deconvolution or a search of a small library either.
NOT_FOR_ONE_RUN = ("scipy.optimize", "scipy.stats", "scipy.signal", "matplotlib",
                   "sqlalchemy", "cryptography", "pyhanko", "fpdf", "matchms", "pyteomics",
                   "starlette", "jinja2", "plotly", "dask")


def imported(code: str, timeout: float = 300) -> set[str]:
    """The modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = (code + "\nimport sys, json\n"
             "sys.__stdout__.write('\\n@@' + json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.rsplit("\n@@", 1)[1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules)


def cli(*args: str) -> str:
    # stderr stays a real file (a pipe), as for the installed command: the kernel check
    # before a command runs as it does in a terminal
    return ("from gcms_cli.main import cli\n"
            f"try:\n    cli({list(args)!r})\nexcept SystemExit as exit:\n"
            "    assert not exit.code, exit.code\n")


def test_the_command_line_and_the_readers_start_without_heavy_packages():
    modules = imported("import gcms_cli.main, gcms.io, gcms.info")
    assert loaded(modules, HEAVY) == []


def test_help_and_info_of_a_run_import_no_heavy_package():
    run = demo_folder() / "05-exhibit-E1.cdf"
    assert loaded(imported(cli("--help")), HEAVY) == []
    assert loaded(imported(cli("deconvolve", "--help")), HEAVY) == []
    assert loaded(imported(cli("info", str(run))), HEAVY) == []


def test_searching_a_small_library_loads_no_compiled_kernels(tmp_path):
    # the demo library (at most SMALL_LIBRARY entries) is scored whole: numba, the
    # search kernels and their cache check are not needed, and not imported
    queries = tmp_path / "query.msp"
    queries.write_text("Name: query\nNum Peaks: 4\n44 1000\n91 180\n65 60\n"
                       "134 40\n\n", encoding="utf-8")
    modules = imported(cli("library", "search", str(demo_library_path()), str(queries),
                           "--top", "3"))
    assert "h5py" in modules  # it did read the library
    assert loaded(modules, ("numba", "gcms.library.scan", "gcms.deconvolution._kernels",
                            *NOT_FOR_ONE_RUN)) == []


def test_deconvolving_one_run_loads_only_the_deconvolution_kernels():
    run = demo_folder() / "05-exhibit-E1.cdf"
    modules = imported(cli("deconvolve", str(run)))
    assert "gcms.deconvolution._kernels" in modules  # the kernels it runs
    assert loaded(modules, ("gcms.library.scan", "h5py", *NOT_FOR_ONE_RUN)) == []


def test_the_noise_fit_solves_as_scipy_optimize_nnls_bit_for_bit():
    from scipy.optimize import nnls as scipy_nnls

    from gcms._imports import nnls

    rng = np.random.default_rng(17)
    for _ in range(300):
        rows, columns = int(rng.integers(2, 30)), int(rng.integers(1, 6))
        a, b = rng.normal(size=(rows, columns)), rng.normal(size=rows)
        x, rnorm = nnls(a, b)
        expected_x, expected_rnorm = scipy_nnls(a, b)
        assert np.array_equal(x, expected_x) and rnorm == expected_rnorm
    # the noise model's own shape: 10 bins x (floor, factor), all weights positive
    design = np.column_stack([np.ones(10), np.linspace(100.0, 5000.0, 10)])
    target = 3.0 * design[:, 1] + 400.0
    assert np.array_equal(nnls(design, target)[0], scipy_nnls(design, target)[0])
    with pytest.raises(ValueError):
        nnls(np.array([[1.0, np.nan]]), np.array([1.0]))


def test_the_kernel_check_finds_the_library_a_command_searches_and_its_size(tmp_path):
    from gcms_cli._kernels import _library_argument, _small_library

    from gcms.library import Library
    from gcms.library._engine import SMALL_LIBRARY

    assert _library_argument("batch", ["seq.csv", "--library", "lab.h5"]) == "lab.h5"
    assert _library_argument("identify", ["run.cdf", "--library=lab.h5"]) == "lab.h5"
    assert _library_argument("library", ["search", "--top", "3", "lab.h5", "q.msp"]) == "lab.h5"
    assert _library_argument("batch", ["seq.csv", "--out", "x"]) is None
    small = demo_library_path()
    assert _small_library(str(small)) is True
    assert _small_library(None) is False
    assert _small_library(str(tmp_path / "missing.h5")) is False
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("not HDF5", encoding="utf-8")
    assert _small_library(str(not_hdf5)) is False
    # one entry past SMALL_LIBRARY: searched with the compiled kernels, so prepared
    demo = Library.open(small)
    spectra = [demo.spectrum(i) for i in range(len(demo))]
    large = Library.from_spectra(spectra * (SMALL_LIBRARY // len(spectra) + 1))
    assert len(large) > SMALL_LIBRARY
    assert _small_library(str(large.write(tmp_path / "large.h5"))) is False
