"""Before a command that runs the compiled kernels: prepare them once, and say so."""

from __future__ import annotations

import io
import sys
import time

import click

BOTH = ("deconvolution", "library search")
#: Commands (or group and subcommand) whose work runs numba kernels: the groups they use.
KERNEL_COMMANDS = {("deconvolve",): ("deconvolution",), ("identify",): BOTH,
                   ("batch",): BOTH, ("quant",): BOTH, ("rescreen",): ("library search",),
                   ("library", "search"): ("library search",)}


def _real_stderr() -> bool:
    # Under click's CliRunner stderr is an in-memory buffer (its text is mixed into
    # the captured output): compile lazily there, as a library call does.
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


def prepare_before(name: str, args: list[str]) -> None:
    """Compile and cache the kernels ``name args`` needs, with messages on stderr, if cold."""
    groups = next((g for key, g in KERNEL_COMMANDS.items()
                   if (name, *args[: len(key) - 1]) == key), None)
    if groups is None:
        return
    if "--help" in args or "-h" in args or not _real_stderr():
        return
    from gcms._kernels import cache_folders, cold_kernels, prepare_kernels

    cold = [group for group in cold_kernels() if group in groups]
    if not cold:
        return
    folders = cache_folders()
    where = sorted({str(folders[g].parent) for g in cold if folders.get(g) is not None})
    click.echo(f"gcms: preparing the compiled kernels ({', '.join(cold)}): once after "
               f"installation or an upgrade, 10-60 s; cached in {', '.join(where) or '?'}",
               err=True)
    started = time.perf_counter()
    prepare_kernels(cold, progress=lambda group, seconds: click.echo(
        f"gcms: {group} kernels ready ({seconds:.1f} s)", err=True))
    click.echo(f"gcms: kernels ready ({time.perf_counter() - started:.1f} s)", err=True)
