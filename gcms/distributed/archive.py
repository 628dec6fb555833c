"""Raw-data re-processing at archive scale: many sequences batched on Dask.

:func:`archive_batch` runs :func:`gcms.batch.run_batch` on each sequence of an archive,
one results folder per sequence, with pass 1 (each run read, deconvoluted and
searched) spread over a Dask cluster: a ``LocalCluster`` or a cluster's scheduler by
address (:func:`gcms.distributed.engine.dask_client`), through the client's
``concurrent.futures`` executor (``client.get_executor()``), so the batch has one code
path whether its runs go to a local process pool or to a cluster. Pass 2 (the
sequence's evidence and the verdicts) runs in this process, as in a local batch.

The per-run results are those of a local batch: the same functions on the same bytes,
each worker opening the library by path and checking its content hash first. Only
``created_utc`` and the notes on how the work was spread differ.

Failures
--------
A run that cannot be read fails alone, as in a local batch (named in its results). A
sequence that cannot be used (invalid, or its output folder holds another batch) is
listed as failed and the other sequences are processed. A task of a worker lost
mid-way is recomputed by the scheduler on another worker (``retries`` beyond that);
the client receives exactly one result per run, and a run whose task still fails is
processed in this process (:func:`gcms.batch.pipeline.run_batch`, ``executor``): no
run is lost and none is recorded twice.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gcms.errors import GcmsError

__all__ = ["ArchiveBatchResult", "archive_batch", "batch_executor", "find_sequences"]

Engine = Literal["dask", "local"]

#: Retries of a pass-1 task whose worker was lost, before it is run in this process.
TASK_RETRIES = 2


@dataclass
class ArchiveBatchResult:
    """The outcome of :func:`archive_batch`: one entry per sequence, in the order given."""

    sequences: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # label -> BatchResult
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        """Runs in the sequences that could be batched."""
        return sum(s["n_runs"] for s in self.sequences)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Sequences not batched, or batched with a failed run or step."""
        return [s for s in self.sequences if s["status"] != "ok"]

    @property
    def exit_code(self) -> int:
        """0 when every sequence was batched without failure, else 1."""
        return 1 if self.failed else 0


def find_sequences(sources: Iterable[str | os.PathLike], *,
                   pattern: str = "sequence*.csv") -> list[Path]:
    """Sequence CSVs: files as given, folders searched (recursively) for ``pattern``."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(pattern) if p.is_file()))
        else:
            found.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise GcmsError(f"{', '.join(map(str, sources))}: no sequence ({pattern}) found")
    return unique


def _labels(paths: Sequence[Path]) -> list[str]:
    """A folder name per sequence: its path below the sequences' common folder."""
    root = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    if len(paths) == 1:
        root = root.parent
    labels = []
    for path in paths:
        parts = [*path.parent.relative_to(root).parts, path.stem]
        label = "-".join(re.sub(r"[^A-Za-z0-9._+-]+", "_", part) for part in parts)
        labels.append(label)
    return labels


@contextlib.contextmanager
def batch_executor(*, scheduler: str | None = None, workers: int | None = None
                   ) -> Iterator[Any]:
    """A Dask executor for :func:`gcms.batch.run_batch` (``executor=``).

    On the scheduler at ``scheduler``, else on a LocalCluster of ``workers`` processes
    (:func:`gcms.distributed.engine.dask_client`); workers running another gcms than
    this process are refused before any task. A task whose worker is lost is retried
    :data:`TASK_RETRIES` times on the others.
    """
    from gcms.distributed.engine import dask_client
    from gcms.distributed.rescreening import _same_version

    with dask_client(scheduler=scheduler, workers=workers) as client:
        _same_version(client, scheduler)
        yield client.get_executor(pure=False, retries=TASK_RETRIES)


def archive_batch(sources: Iterable[str | os.PathLike], *, library: str | os.PathLike,
                  out_dir: str | os.PathLike, criteria: Any = None, settings: Any = None,
                  engine: Engine = "dask", scheduler: str | None = None,
                  workers: int | None = None, steps: Sequence[Any] = (),
                  resume: bool = True, out_mode: str | None = None,
                  progress: Callable[[str, Any], None] | None = None,
                  pattern: str = "sequence*.csv", concurrent: int = 1
                  ) -> ArchiveBatchResult:
    """Batch every sequence of ``sources``, each into ``out_dir/<label>``.

    Parameters
    ----------
    sources
        Sequence CSVs, or folders searched for ``pattern`` (:func:`find_sequences`).
    library
        Path of the compiled library (workers open it by path: they must see the same
        file, checked by its content hash).
    out_dir
        Parent of the results folders; each sequence's is named after its path below
        the sequences' common folder (``runs-0/sequence.csv`` -> ``runs-0-sequence``).
    criteria, settings, steps, resume, out_mode
        As :func:`gcms.batch.run_batch`, for every sequence.
    engine
        ``"dask"``: pass 1 on a Dask cluster (``scheduler`` or a LocalCluster of
        ``workers`` processes); ``"local"``: the batch's own process pool of ``workers``
        (the reference a cluster's results must equal).
    progress
        Called with (label, :class:`gcms.batch.ProgressEvent`) as each run finishes pass 1.
    concurrent
        With ``engine="dask"``: sequences batched at once, each in a thread of this
        process; their pass-1 runs share the cluster, so it keeps working while a
        sequence is judged (pass 2). Batch ``steps`` must then be safe to call from
        several threads. 1 (default) batches one sequence after another, as the
        ``"local"`` engine always does (each batch has its own process pool).

    Returns
    -------
    ArchiveBatchResult
        One entry per sequence: label, path, results folder, status ("ok", "failed
        runs", "not batched"), counts and the problem; the :class:`BatchResult` of each
        sequence batched.

    Raises
    ------
    GcmsError
        No sequence found, the library or criteria cannot be used, the scheduler cannot
        be reached, or the workers run another gcms.
    """
    from gcms.batch import run_batch
    from gcms.identify import load_criteria
    from gcms.library import Library

    if concurrent < 1:
        raise ValueError(f"concurrent must be >= 1, got {concurrent}")
    started = time.perf_counter()
    paths = find_sequences(sources, pattern=pattern)
    labels = _labels(paths)
    library_path = Path(library)
    Library.open(library_path)  # a bad library is refused before any cluster starts
    if criteria is None or isinstance(criteria, (str, os.PathLike)):
        criteria = load_criteria(criteria)
    out = Path(out_dir)
    result = ArchiveBatchResult()

    entries: list[dict[str, Any]] = [{} for _ in paths]

    def batch_one(index: int, executor: Any) -> None:
        label, path = labels[index], paths[index]

        def advance(event: Any) -> None:
            if progress is not None:
                progress(label, event)

        entry: dict[str, Any] = {"label": label, "sequence": str(path),
                                 "out_dir": str(out / label), "n_runs": 0}
        try:
            batch = run_batch(path, library=library_path, out_dir=out / label,
                              criteria=criteria, settings=settings, workers=workers,
                              progress=advance, steps=steps, resume=resume,
                              out_mode=out_mode, executor=executor)
        except GcmsError as error:
            entry.update(status="not batched", problem=str(error))
        except OSError as error:
            entry.update(status="not batched",
                         problem=f"{out / label}: {error.strerror or error}")
        else:
            result.results[label] = batch
            entry.update(status="ok" if batch.ok else "failed runs",
                         n_runs=len(batch.records), processed=batch.processed,
                         cached=batch.cached, failed_runs=len(batch.failed),
                         problem="; ".join([f["problem"] for f in batch.failed]
                                           + batch.step_failures) or None)
        entries[index] = entry

    def batch_all(executor: Any) -> None:
        if concurrent == 1 or len(paths) == 1 or executor is None:
            for index in range(len(paths)):
                batch_one(index, executor)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(concurrent, len(paths)),
                                thread_name_prefix="gcms-sequence") as threads:
            for done in [threads.submit(batch_one, i, executor) for i in range(len(paths))]:
                done.result()

    if engine == "local":
        batch_all(None)
    elif engine == "dask":
        with batch_executor(scheduler=scheduler, workers=workers) as executor:
            batch_all(executor)
    else:
        raise ValueError(f"engine must be 'dask' or 'local', got {engine!r}")
    result.sequences = entries
    result.seconds = time.perf_counter() - started
    return result
