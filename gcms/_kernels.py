"""The compiled (numba) kernels: are they cached here yet, and compiling them once, ahead.

gcms compiles its hot loops with numba (``@numba.njit(cache=True)``:
:mod:`gcms.deconvolution._kernels`, :mod:`gcms.library.scan`). The first call of a
kernel on a machine compiles it (10-55 s for all of them on 2 cores, depending on the
load) and writes the machine code to numba's cache; every later process loads it from
there (about 1 s, most of it numba setting up its compiler once per process).

Where the cache lives (numba's own rules, ``numba.core.caching``): ``NUMBA_CACHE_DIR``
when set; else the ``__pycache__`` folder beside the module when it is writable (an
editable or user install); else the user's cache folder (``~/.cache/numba`` on Linux,
the platform's user cache directory elsewhere), so an install in a read-only
site-packages still caches where the user can write. :func:`cache_folders` says which
is used.

:func:`cold_kernels` tells, without compiling anything, which kernels have nothing in
the cache for this source (first use, or an upgrade changed the module); the command
line then says that it is preparing them and runs :func:`prepare_kernels`, which
compiles both groups at once in two processes (each compiles on one core) by running
the bundled demo run and library through the real code, so that exactly the type
signatures real data uses are compiled and cached.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["KERNEL_GROUPS", "cache_folders", "cold_kernels", "prepare_kernels"]

#: Kernel modules, by the step that uses them (each group is compiled by one process).
KERNEL_GROUPS: dict[str, str] = {
    "deconvolution": "gcms.deconvolution._kernels",
    "library search": "gcms.library.scan",
}


def _dispatchers(module_name: str) -> list:
    from numba.core.registry import CPUDispatcher

    module = importlib.import_module(module_name)
    return [value for value in vars(module).values()
            if isinstance(value, CPUDispatcher) and value.__module__ == module_name]


def _cache_file(dispatcher):
    cache = getattr(dispatcher, "_cache", None)
    return getattr(cache, "_cache_file", None)


def _groups(groups: Iterable[str] | None) -> list[str]:
    if groups is None:
        return list(KERNEL_GROUPS)
    groups = list(groups)
    unknown = [group for group in groups if group not in KERNEL_GROUPS]
    if unknown:
        raise ValueError(f"no kernel group {unknown[0]!r} (known: {', '.join(KERNEL_GROUPS)})")
    return groups


def cache_folders(groups: Iterable[str] | None = None) -> dict[str, Path | None]:
    """Per kernel group, the folder numba caches its machine code in (None: no caching).

    Only the modules of ``groups`` (default: all) are imported.
    """
    out = {}
    for group in _groups(groups):
        cache = getattr(_dispatchers(KERNEL_GROUPS[group])[0], "_cache", None)
        path = getattr(cache, "_cache_path", None)
        out[group] = Path(path) if path else None
    return out


def cold_kernels(groups: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Per kernel group, the kernels with no cached machine code for the current source.

    Reads numba's cache index of each kernel of ``groups`` (default: all; only their
    modules are imported) -- its source stamp must match the module file, a changed
    module counts as not cached; compiles nothing. An empty dict: every kernel is cached.
    """
    cold: dict[str, list[str]] = {}
    for group in _groups(groups):
        for dispatcher in _dispatchers(KERNEL_GROUPS[group]):
            cache_file = _cache_file(dispatcher)
            try:
                cached = bool(cache_file._load_index()) if cache_file is not None else False
            except (OSError, EOFError, ValueError):
                cached = False
            if not cached:
                cold.setdefault(group, []).append(dispatcher.__name__)
    return cold


def _compile_group(group: str) -> float:
    """Run the demo data through the code of ``group`` (compiling its kernels); seconds."""
    started = time.perf_counter()
    from gcms.demo import demo_folder, demo_library_path
    from gcms.io import read
    from gcms.library import Library

    library = Library.open(demo_library_path())
    if group == "deconvolution":
        from gcms.deconvolution import deconvolve

        deconvolve(read(demo_folder() / "05-exhibit-E1.cdf"))
    elif group == "library search":
        from gcms.library._engine import SMALL_LIBRARY
        from gcms.library.scan import PILOT
        from gcms.library.search import SearchSettings, search

        spectra = [library.spectrum(i) for i in range(len(library))]
        # more entries than a library scored whole (SMALL_LIBRARY) and than the pilot
        # pass keeps (PILOT), so that the scan and its pilot are compiled
        larger = Library.from_spectra(
            spectra * (1 + max(PILOT, SMALL_LIBRARY) // len(spectra)))
        search(larger, spectra[:8], top=10)
        search(larger, spectra[:8], top=10, settings=SearchSettings(min_match_factor=700))
    else:
        raise ValueError(f"no kernel group {group!r} (known: {', '.join(KERNEL_GROUPS)})")
    return time.perf_counter() - started


def _compile_here(groups: list[str], progress: Callable[[str, float], None] | None,
                  waiting: Callable[[float], None] | None, every: float) -> dict[str, float]:
    """Compile ``groups`` one after the other in this process; a thread calls ``waiting``."""
    import threading

    started = time.perf_counter()
    stop = threading.Event()

    def tick(report: Callable[[float], None]) -> None:
        while not stop.wait(every):
            report(time.perf_counter() - started)

    ticker = threading.Thread(target=tick, args=(waiting,), name="gcms-kernels-progress",
                              daemon=True)
    if waiting is not None:
        ticker.start()
    done: dict[str, float] = {}
    try:
        for group in groups:
            done[group] = _compile_group(group)
            if progress is not None:
                progress(group, done[group])
    finally:
        stop.set()
        if ticker.is_alive():
            ticker.join()
    return done


def prepare_kernels(groups: list[str] | None = None, *, processes: int | None = None,
                    progress: Callable[[str, float], None] | None = None,
                    waiting: Callable[[float], None] | None = None,
                    every: float = 5.0) -> dict[str, float]:
    """Compile and cache the kernels of ``groups`` (default: the cold ones); seconds each.

    With ``processes`` > 1 (default: as many as groups, at most the CPU count) each
    group compiles in its own process at the same time; with one (one group, or
    ``processes=1``) they compile in this process, which then holds them compiled (no
    interpreter to start, nothing to load back from the cache: about 2 s less for the
    README's first command on 2 cores). ``progress(group, seconds)`` is called as each
    one is ready. With ``waiting``, ``waiting(seconds so far)`` is called every ``every``
    seconds until the last is ready (a progress display; from a thread when this
    process compiles).
    """
    if groups is None:
        groups = list(cold_kernels())
    if not groups:
        return {}
    n = processes if processes is not None else min(len(groups), os.cpu_count() or 1)
    done: dict[str, float] = {}
    if n <= 1:
        return _compile_here(groups, progress, waiting, every)
    # imported here: a process pool costs ~30 ms to import, and most commands find
    # their kernels cached
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    # "spawn": a fresh interpreter per group, whatever threads this process runs.
    started = time.perf_counter()
    with ProcessPoolExecutor(max(n, 1), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_compile_group, group): group for group in groups}
        pending = set(futures)
        while pending:
            ready, pending = wait(pending, timeout=every if waiting is not None else None,
                                  return_when=FIRST_COMPLETED)
            for future in ready:
                group = futures[future]
                done[group] = future.result()
                if progress is not None:
                    progress(group, done[group])
            if not ready and waiting is not None:
                waiting(time.perf_counter() - started)
    return done
