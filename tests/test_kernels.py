"""Compiled kernels: cached where the user can write, prepared once and announced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from gcms._kernels import KERNEL_GROUPS, cache_folders, cold_kernels
from gcms.demo import demo_folder

#: Bound on each command of the cold-cache test (a cold compile takes 10-60 s).
WAIT_S = 300


def test_every_kernel_is_cached_in_a_folder_the_user_can_write():
    folders = cache_folders()
    assert set(folders) == set(KERNEL_GROUPS)
    for folder in folders.values():
        assert folder is not None and folder.is_dir() and os.access(folder, os.W_OK)
    assert set(cold_kernels()) <= set(KERNEL_GROUPS)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=WAIT_S,
                          check=False)


@pytest.mark.slow
def test_first_command_says_it_prepares_the_kernels_and_the_next_does_not(tmp_path):
    gcms = shutil.which("gcms")
    if gcms is None:
        pytest.skip("the gcms command is not installed")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    # -I: the probe imports gcms as the installed command does, never the source tree of
    # the working folder (a different file for numba's cache index when not editable)
    probe = [sys.executable, "-I", "-c",
             "import json; from gcms._kernels import cold_kernels; "
             "print(json.dumps(cold_kernels()))"]
    before = json.loads(run(probe, env).stdout)
    assert set(before) == set(KERNEL_GROUPS)  # an empty cache: every kernel is cold
    run_file = str(demo_folder() / "05-exhibit-E1.cdf")
    first = run([gcms, "deconvolve", run_file], env)
    assert first.returncode == 0, first.stderr
    assert "preparing the compiled kernels (deconvolution)" in first.stderr
    assert str(tmp_path / "numba") in first.stderr
    assert "deconvolution kernels ready" in first.stderr
    after = json.loads(run(probe, env).stdout)
    assert "deconvolution" not in after and "library search" in after
    second = run([gcms, "deconvolve", run_file], env)
    assert second.returncode == 0 and "preparing" not in second.stderr
    assert second.stdout == first.stdout  # the same components, from cached kernels
