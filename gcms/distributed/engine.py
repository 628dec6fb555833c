"""The Dask engine: one way to get a client, whether the cluster is local or remote.

Archive-scale work (:mod:`gcms.distributed.rescreening`) runs on Dask's
``dask.distributed`` scheduler (https://distributed.dask.org): a ``LocalCluster`` of
worker processes on this machine by default, or the scheduler of a real cluster by its
address (``tcp://host:8786``). Both are driven through the same ``Client``, so the
code that submits tasks and collects results is the same on a laptop and on a cluster.

Dask is an optional dependency (``pip install 'gcms[distributed]'``), imported only
when a client is made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from gcms.errors import GcmsError, MissingExtraError

__all__ = ["dask_client"]

#: Seconds to wait for a remote scheduler before giving up with a clear error.
CONNECT_TIMEOUT_S = 30.0


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise MissingExtraError("distributed re-screening", "distributed",
                                "dask[distributed]") from error
    return distributed


@contextlib.contextmanager
def dask_client(*, scheduler: str | None = None, workers: int | None = None,
                timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A ``distributed.Client``: on ``scheduler`` when given, else on a new LocalCluster.

    Parameters
    ----------
    scheduler
        Address of a running ``dask scheduler`` (``tcp://host:port``); its workers
        must see the same files (archive, library, output folder paths) as this
        process.
    workers
        Worker processes of the LocalCluster, one thread each (the compiled search is
        single-threaded per query block); default: one per CPU core. Ignored with
        ``scheduler``.

    Raises
    ------
    MissingExtraError
        Dask is not installed.
    GcmsError
        The scheduler cannot be reached within ``timeout_s``.
    """
    distributed = _distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=timeout_s)
        except (OSError, TimeoutError) as error:
            raise GcmsError(f"{scheduler}: cannot reach the Dask scheduler ({error})") \
                from error
        with client:
            yield client
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    # The dashboard needs bokeh and a port: a batch job has no use for it.
    try:
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
    except RuntimeError as error:  # e.g. "Nanny failed to start."
        raise GcmsError(f"the local Dask cluster did not start ({error}); its workers are "
                        f"new Python processes, so a script must call this under "
                        f"`if __name__ == '__main__':`") from error
    with cluster, distributed.Client(cluster) as client:
        yield client
