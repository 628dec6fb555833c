"""The demo library is searched without the compiled search kernels: the README's first
command prepares (and later loads) only the deconvolution kernels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from gcms_cli._kernels import kernel_groups

from gcms.demo import demo_folder

WAIT_S = 300


def test_kernel_groups_of_a_command_leave_out_search_kernels_for_the_demo_library():
    assert kernel_groups("batch", ["seq.csv", "--out", "x"]) == ("deconvolution",)
    assert kernel_groups("identify", ["run.cdf"]) == ("deconvolution",)
    both = ("deconvolution", "library search")
    assert kernel_groups("batch", ["seq.csv", "--library", "lib.h5"]) == both
    assert kernel_groups("batch", ["seq.csv", "--library=lib.h5"]) == both
    assert kernel_groups("quant", ["seq.csv"]) == both
    assert kernel_groups("library", ["search", "lib.h5"]) == ("library search",)
    assert kernel_groups("library", ["info", "lib.h5"]) == ()
    assert kernel_groups("deconvolve", ["run.cdf"]) == ("deconvolution",)
    assert kernel_groups("report", ["results.json"]) == ()


@pytest.mark.slow
def test_demo_batch_on_a_fresh_cache_compiles_only_the_deconvolution_kernels(tmp_path):
    gcms = shutil.which("gcms")
    if gcms is None:
        pytest.skip("the gcms command is not installed")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    sequence = str(demo_folder() / "sequence.csv")
    first = subprocess.run([gcms, "batch", sequence, "--out", str(tmp_path / "out")], env=env,
                           capture_output=True, text=True, timeout=WAIT_S, check=False)
    assert first.returncode in (0, 1), first.stderr  # 1: findings reported
    assert "preparing the compiled kernels (deconvolution)" in first.stderr
    assert "library search" not in first.stderr
    assert (tmp_path / "out" / "results.json").is_file()
    probe = [sys.executable, "-I", "-c",
             "import json; from gcms._kernels import cold_kernels; "
             "print(json.dumps(cold_kernels()))"]
    cold = json.loads(subprocess.run(probe, env=env, capture_output=True, text=True,
                                     timeout=WAIT_S, check=True).stdout)
    assert "deconvolution" not in cold and "library search" in cold  # never compiled


@pytest.mark.slow
def test_preparing_the_search_kernels_compiles_the_scan(tmp_path):
    """The demo library is scored whole: preparing must search a larger one."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    code = ("import json; from gcms._kernels import cold_kernels, prepare_kernels; "
            "prepare_kernels(['library search'], processes=1); "
            "print(json.dumps(cold_kernels()))")
    done = subprocess.run([sys.executable, "-I", "-c", code], env=env, capture_output=True,
                          text=True, timeout=WAIT_S, check=True)
    cold = json.loads(done.stdout.splitlines()[-1])
    assert "library search" not in cold and "deconvolution" in cold
