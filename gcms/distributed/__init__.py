"""Archive-scale work on Dask: re-screening, and re-processing of many sequences.

:func:`archive_batch` batches many sequences with pass 1 on the cluster (one results
folder per sequence, the results of a local batch).

:func:`rescreen` runs on a ``LocalCluster`` by default or on a cluster's scheduler by
address (:func:`dask_client`), the same code on both; Dask is the optional extra
``pip install 'gcms[distributed]'``.
"""

from gcms.distributed.archive import (
    ArchiveBatchResult,
    archive_batch,
    batch_executor,
    find_sequences,
)
from gcms.distributed.engine import dask_client
from gcms.distributed.rescreening import (
    FINDING_COLUMNS,
    ArchivedDocument,
    RescreenResult,
    RescreenSettings,
    archived_documents,
    finding_rows,
    rescreen,
    rescreen_document,
)

__all__ = [
    "ArchiveBatchResult",
    "FINDING_COLUMNS",
    "ArchivedDocument",
    "RescreenResult",
    "RescreenSettings",
    "archive_batch",
    "archived_documents",
    "batch_executor",
    "dask_client",
    "find_sequences",
    "finding_rows",
    "rescreen",
    "rescreen_document",
]
