r"""The ``"fast"`` presearch: probe the library clusters nearest each query.

Built once per library (on first use, a few seconds for 350,000 spectra):

1. each entry's identity weights :math:`\sqrt{m L}`, scaled to unit length;
2. a 64-dimensional basis from the principal components of a sample of entries;
3. spherical k-means in that basis (about 256 entries per cluster), trained on a
   sample, then every entry assigned to its nearest centroid;
4. per cluster, the mean unit vector of its members in the full m/z space (what
   queries are compared with) and its members' weight rows, stored contiguously.

A search compares each query with every centroid, probes the ``probes`` best
clusters, computes the exact bound of :mod:`gcms.library.search` for their members
(one sparse x dense product per cluster, for all the queries probing it), and hands
the ``candidates`` best per query to exact re-scoring. Everything is seeded: the same
library gives the same clusters and the same hit lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gcms.library.kernels import QueryBlock
    from gcms.library.search import SearchIndex, SearchSettings, _Queries

__all__ = ["ClusterIndex"]

#: Mean entries per cluster.
CLUSTER_SIZE = 256
#: Dimension of the basis the clustering runs in.
BASIS_DIMENSION = 64
#: Entries sampled to find the basis and train the centroids.
TRAINING_SAMPLE = 25_000
#: k-means iterations on the training sample.
KMEANS_ITERATIONS = 8
#: Seed of every random choice of the index build.
SEED = 20_240_601


def _unit_rows(matrix):
    import scipy.sparse as sp

    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix


@dataclass(frozen=True, slots=True, eq=False)
class ClusterIndex:
    """Clusters of library entries for the fast presearch (see the module docstring)."""

    order: np.ndarray  # library rows, grouped by cluster
    offsets: np.ndarray  # cluster c holds order[offsets[c]:offsets[c + 1]]
    centroids: np.ndarray  # (n_clusters, width) unit vectors, float32
    _blocks: dict[str, tuple[Any, ...]]  # per weight kind, per cluster: its members' rows

    def blocks(self, index: SearchIndex, kind: str) -> tuple[Any, ...]:
        """Per cluster, the ``kind`` weight rows of its members (built on first use)."""
        if kind not in self._blocks:
            permuted = index.weights(kind)[self.order]
            self._blocks[kind] = tuple(permuted[self.offsets[c]:self.offsets[c + 1]]
                                       for c in range(self.n_clusters))
        return self._blocks[kind]

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self.offsets.size - 1)

    @classmethod
    def build(cls, index: SearchIndex) -> ClusterIndex:
        """Cluster the entries of ``index``."""
        import scipy.sparse as sp

        n = len(index)
        rng = np.random.default_rng(SEED)
        unit = _unit_rows(index.weights("mass")).tocsr()
        width = unit.shape[1]
        n_clusters = max(1, int(round(n / CLUSTER_SIZE)))
        if n_clusters == 1:
            assign = np.zeros(n, dtype=np.int64)
        else:
            sample = np.sort(rng.choice(n, size=min(n, TRAINING_SAMPLE), replace=False))
            dense = unit[sample].toarray().astype(np.float32)
            gram = dense.T @ dense
            _, vectors = np.linalg.eigh(gram.astype(np.float64))
            basis = vectors[:, ::-1][:, :min(BASIS_DIMENSION, width)].astype(np.float32)
            projected = np.asarray(unit @ basis, dtype=np.float32)
            projected /= np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)
            train = projected[sample]
            centres = train[rng.choice(train.shape[0], size=n_clusters, replace=False)]
            for _ in range(KMEANS_ITERATIONS):
                nearest = np.argmax(train @ centres.T, axis=1)
                sums = np.zeros_like(centres)
                np.add.at(sums, nearest, train)
                norms = np.linalg.norm(sums, axis=1, keepdims=True)
                empty = norms[:, 0] == 0
                centres = np.where(empty[:, None], centres, sums / np.maximum(norms, 1e-12))
            assign = np.empty(n, dtype=np.int64)
            step = 65_536
            for lo in range(0, n, step):
                assign[lo:lo + step] = np.argmax(projected[lo:lo + step] @ centres.T, axis=1)
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=n_clusters)
        offsets = np.zeros(n_clusters + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        member = sp.csr_matrix((np.ones(n), (assign, np.arange(n))), shape=(n_clusters, n))
        centroids = np.asarray((member @ unit).todense(), dtype=np.float64)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        return cls(order=order, offsets=offsets, centroids=centroids.astype(np.float32),
                   _blocks={})

    def candidates(self, index: SearchIndex, qblock: QueryBlock, queries: _Queries,
                   settings: SearchSettings) -> tuple[np.ndarray, np.ndarray]:
        """``(query, entry)`` pairs to score exactly: the best bounds of the probed clusters."""
        from gcms.library.search import _bounds_block

        n_q = len(qblock)
        width = self.centroids.shape[1]
        masses = np.arange(qblock.width, dtype=np.float64)
        q_unit = np.sqrt(qblock.abundance * masses)[:, :width]
        q_unit /= np.maximum(np.linalg.norm(q_unit, axis=1, keepdims=True), 1e-12)
        probes = min(settings.probes, self.n_clusters)
        closeness = q_unit.astype(np.float32) @ self.centroids.T  # (n_q, n_clusters)
        if probes < self.n_clusters:
            probed = np.argpartition(-closeness, probes - 1, axis=1)[:, :probes]
        else:
            probed = np.broadcast_to(np.arange(self.n_clusters), (n_q, probes))
        keep = max(1, settings.candidates)
        needed = {"identity": ("mass",), "reverse": ("mass", "binary"),
                  "similarity": ("plain",)}[settings.rank_by]
        slot_values = np.full((n_q, probes, keep), -np.inf, dtype=np.float32)
        slot_rows = np.zeros((n_q, probes, keep), dtype=np.int64)
        flat_cluster = probed.ravel()
        flat_query = np.repeat(np.arange(n_q), probes)
        flat_slot = np.tile(np.arange(probes), n_q)
        by_cluster = np.argsort(flat_cluster, kind="stable")
        clusters, starts = np.unique(flat_cluster[by_cluster], return_index=True)
        stops = np.append(starts[1:], by_cluster.size)
        for c, lo, hi in zip(clusters, starts, stops, strict=True):
            members = self.order[self.offsets[c]:self.offsets[c + 1]]
            if members.size == 0:
                continue
            picks = by_cluster[lo:hi]
            qsel, slots = flat_query[picks], flat_slot[picks]
            blocks = {kind: self.blocks(index, kind)[c] for kind in needed}
            bound = _bounds_block(index, qblock, queries, qsel, members, settings,
                                  blocks=blocks)  # (n_members, n_qsel)
            if members.size > keep:
                best = np.argpartition(-bound, keep - 1, axis=0)[:keep]  # (keep, n_qsel)
            else:
                best = np.broadcast_to(np.arange(members.size)[:, None],
                                       (members.size, qsel.size))
            values = np.take_along_axis(bound, best, axis=0)
            count = best.shape[0]
            slot_values[qsel, slots, :count] = values.T
            slot_rows[qsel, slots, :count] = members[best].T
        values = slot_values.reshape(n_q, -1)
        rows = slot_rows.reshape(n_q, -1)
        if values.shape[1] > keep:
            chosen = np.argpartition(-values, keep - 1, axis=1)[:, :keep]
        else:
            chosen = np.broadcast_to(np.arange(values.shape[1]), values.shape)
        chosen_values = np.take_along_axis(values, chosen, axis=1)
        chosen_rows = np.take_along_axis(rows, chosen, axis=1)
        ok = np.isfinite(chosen_values) & (chosen_values > 0)
        qi = np.broadcast_to(np.arange(n_q)[:, None], chosen.shape)[ok]
        return qi.astype(np.int64), chosen_rows[ok]
