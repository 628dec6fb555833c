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
#: Commands that search the bundled demo library when no ``--library`` is given: a
#: library that small is scored whole, without the compiled search kernels
#: (``gcms.library._engine.SMALL_LIBRARY``), so they are not prepared for it.
DEMO_LIBRARY_COMMANDS = {("identify",), ("batch",)}


def kernel_groups(name: str, args: list[str]) -> tuple[str, ...]:
    """The kernel groups that the command ``name args`` runs (empty: none)."""
    key = next((k for k in KERNEL_COMMANDS if (name, *args[: len(k) - 1]) == k), None)
    if key is None:
        return ()
    groups = KERNEL_COMMANDS[key]
    if key in DEMO_LIBRARY_COMMANDS and not any(
            a == "--library" or a.startswith("--library=") for a in args):
        groups = tuple(g for g in groups if g != "library search")
    return groups


def _library_argument(name: str, args: list[str]) -> str | None:
    """The library file the command ``name args`` searches, where the arguments name one."""
    for i, arg in enumerate(args):
        if arg.startswith("--library="):
            return arg.split("=", 1)[1]
        if arg == "--library" and i + 1 < len(args):
            return args[i + 1]
    if name == "library" and args[:1] == ["search"]:
        # LIBRARY: the compiled library, the one HDF5 file among the arguments (the
        # queries are MSP, JCAMP-DX or MassBank files)
        return next((a for a in args[1:] if a.lower().endswith((".h5", ".hdf5"))), None)
    return None


def _small_library(path: str | None) -> bool:
    """Whether ``path`` is a gcms library small enough to be searched whole (no kernels).

    Reads the entry count recorded in the file's attributes (``h5py``, which opening the
    library needs anyway); anything unreadable counts as not small (its kernels are then
    prepared, as before).
    """
    if path is None:
        return False
    try:
        import h5py

        from gcms.library._engine import SMALL_LIBRARY

        with h5py.File(path, "r") as h5:
            return int(h5.attrs["n_entries"]) <= SMALL_LIBRARY
    except (OSError, KeyError, ValueError, TypeError, ImportError):
        return False


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
    groups = kernel_groups(name, args)
    if not groups:
        return
    if "--help" in args or "-h" in args or not _real_stderr():
        return
    if "library search" in groups and _small_library(_library_argument(name, args)):
        # a library of at most SMALL_LIBRARY entries is scored whole: no search kernels
        groups = tuple(g for g in groups if g != "library search")
        if not groups:
            return
    from gcms._kernels import cache_folders, cold_kernels, prepare_kernels

    # only the modules of the groups this command runs are imported (and numba with them)
    cold = list(cold_kernels(groups))
    if not cold:
        return
    folders = cache_folders(cold)
    where = sorted({str(folder.parent) for g in cold
                    if (folder := folders.get(g)) is not None})
    click.echo(f"gcms: preparing the compiled kernels ({', '.join(cold)}): once after "
               f"installation or an upgrade, 10-60 s; cached in {', '.join(where) or '?'}",
               err=True)
    started = time.perf_counter()
    terminal = sys.stderr.isatty()

    def waiting(seconds: float) -> None:
        # a line every 10 s in a log; one line rewritten every 2 s on a terminal
        if terminal:
            click.echo(f"\rgcms: compiling ... {seconds:.0f} s", err=True, nl=False)
        elif round(seconds / 2) % 5 == 0:
            click.echo(f"gcms: compiling ... {seconds:.0f} s", err=True)

    def ready(group: str, seconds: float) -> None:
        start = "\r" if terminal else ""
        click.echo(f"{start}gcms: {group} kernels ready ({seconds:.1f} s)" + " " * 8, err=True)

    prepare_kernels(cold, progress=ready, waiting=waiting, every=2.0)
    click.echo(f"gcms: kernels ready ({time.perf_counter() - started:.1f} s)", err=True)
