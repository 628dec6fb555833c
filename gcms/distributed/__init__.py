"""Archive-scale work on Dask: re-screening of archived runs against a new library.

:func:`rescreen` runs on a ``LocalCluster`` by default or on a cluster's scheduler by
address (:func:`dask_client`), the same code on both; Dask is the optional extra
``pip install 'gcms[distributed]'``.
"""

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
    "FINDING_COLUMNS",
    "ArchivedDocument",
    "RescreenResult",
    "RescreenSettings",
    "archived_documents",
    "dask_client",
    "finding_rows",
    "rescreen",
    "rescreen_document",
]
