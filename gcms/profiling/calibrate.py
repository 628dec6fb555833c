"""The linkage threshold, set from known-linked and known-unlinked pairs, with its error rates.

:func:`calibrate` takes the scores of pairs known to share an origin (exhibits of one
seizure, one batch) and of pairs known not to, and returns a :class:`LinkCalibration`: the
threshold, the false-positive rate (unlinked pairs the threshold would call linked) and the
false-negative rate (linked pairs it would miss), each with its exact (Clopper-Pearson)
confidence interval (Clopper & Pearson, Biometrika 26 (1934) 404-413), the ROC curve and
both score distributions. This is how the harmonised amphetamine profiling work sets its
thresholds: from the distributions of linked and unlinked scores of the lab's own samples
(Andersson et al., Forensic Sci. Int. 169 (2007) 86-99).

The threshold rule (``rule``):

* ``"min-total-error"`` (default): the threshold minimising FPR + FNR (the crossing of the
  two distributions when they overlap; the midpoint of the gap when they do not);
* ``"max-false-positive"``: the most inclusive threshold whose false-positive rate is at
  most ``max_false_positive_rate`` (a lab that will not risk linking unrelated seizures).

For a similarity (Pearson, cosine) a pair is linked when ``score >= threshold``; for a
distance (Canberra, Euclidean) when ``score <= threshold``. A calibration made on simulated
pairs says so (``simulated``), and every link quotes it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array
from gcms.errors import GcmsError

__all__ = ["KnownSet", "LinkCalibration", "Rate", "calibrate", "calibrate_groups",
           "clopper_pearson", "load_calibration", "plot_calibration", "read_known_set"]

Rule = Literal["min-total-error", "max-false-positive"]
#: Confidence level of the stated error rates.
CONFIDENCE = 0.95


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial confidence interval of ``k`` successes in ``n`` trials.

    ``[B(α/2; k, n-k+1), B(1-α/2; k+1, n-k)]`` with ``B`` the beta quantile, 0 and 1 at the
    ends (Clopper & Pearson 1934).
    """
    from scipy.stats import beta

    if n <= 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (low, high)


@dataclass(frozen=True, slots=True)
class Rate:
    """An error rate: ``errors`` of ``pairs``, its estimate and its confidence interval.

    The interval is Clopper-Pearson's, which treats the pairs as independent trials. Pairs
    are not: an exhibit enters many of them, and exhibits of one batch share its levels.
    When the pairs' groups are known (:func:`calibrate_groups`), ``bootstrap`` holds the
    percentile interval of a bootstrap over the groups (batches resampled with
    replacement), and :attr:`interval` is the wider of the two.
    """

    errors: int
    pairs: int
    confidence: float = CONFIDENCE
    bootstrap: tuple[float, float] | None = None

    @property
    def rate(self) -> float:
        """``errors / pairs`` (0 when no pairs)."""
        return self.errors / self.pairs if self.pairs else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Clopper-Pearson interval at ``confidence``, widened to the bootstrap's if any."""
        low, high = clopper_pearson(self.errors, self.pairs, self.confidence)
        if self.bootstrap is not None:
            low, high = min(low, self.bootstrap[0]), max(high, self.bootstrap[1])
        return (low, high)

    def text(self) -> str:
        """``0.8 % (3/400; 95 % CI 0.2-2.2 %)``."""
        low, high = self.interval
        return (f"{100 * self.rate:.2g} % ({self.errors}/{self.pairs}; "
                f"{100 * self.confidence:g} % CI {100 * low:.2g}-{100 * high:.2g} %)")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"errors": self.errors, "pairs": self.pairs, "rate": self.rate,
                "confidence": self.confidence, "interval": list(self.interval),
                "clopper_pearson": list(clopper_pearson(self.errors, self.pairs,
                                                        self.confidence)),
                "bootstrap": list(self.bootstrap) if self.bootstrap else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rate:
        """Rebuild from :meth:`to_dict`."""
        boot = data.get("bootstrap")
        return cls(int(data["errors"]), int(data["pairs"]), float(data["confidence"]),
                   (float(boot[0]), float(boot[1])) if boot else None)


@dataclass(frozen=True, slots=True, eq=False)
class LinkCalibration:
    """A linkage threshold with its error rates, ROC curve and score distributions."""

    metric: str
    higher_is_closer: bool
    threshold: float
    false_positive: Rate
    false_negative: Rate
    rule: str
    linked: np.ndarray
    unlinked: np.ndarray
    roc_fpr: np.ndarray
    roc_tpr: np.ndarray
    auc: float
    simulated: bool = False
    method: Mapping[str, Any] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("linked", "unlinked", "roc_fpr", "roc_tpr"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.float64,
                                                        name=name))

    def is_link(self, score: ArrayLike) -> np.ndarray:
        """Whether each score is a link under this threshold."""
        s = np.asarray(score, dtype=np.float64)
        return s >= self.threshold if self.higher_is_closer else s <= self.threshold

    def statement(self) -> str:
        """The sentence every reported link quotes."""
        side = ">=" if self.higher_is_closer else "<="
        origin = " (calibrated on SIMULATED pairs)" if self.simulated else ""
        return (f"{self.metric} threshold {side} {self.threshold:.4g}{origin}: false-positive "
                f"rate {self.false_positive.text()}, false-negative rate "
                f"{self.false_negative.text()}")

    def quote(self) -> dict[str, Any]:
        """What a link stores of its calibration (threshold and rates, not the scores)."""
        return {"metric": self.metric, "higher_is_closer": self.higher_is_closer,
                "threshold": self.threshold, "rule": self.rule, "simulated": self.simulated,
                "false_positive": self.false_positive.to_dict(),
                "false_negative": self.false_negative.to_dict(),
                "method": dict(self.method) if self.method else None,
                "statement": self.statement()}

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``calibration.json``): the quote, the ROC curve and both distributions."""
        return {"schema": "gcms-link-calibration/1", **self.quote(), "auc": self.auc,
                "source": self.source,
                "roc": {"false_positive_rate": self.roc_fpr.tolist(),
                        "true_positive_rate": self.roc_tpr.tolist()},
                "linked_scores": self.linked.tolist(),
                "unlinked_scores": self.unlinked.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<calibration>"
                  ) -> LinkCalibration:
        """Rebuild from :meth:`to_dict` (GcmsError naming ``source`` when malformed)."""
        try:
            if data.get("schema") != "gcms-link-calibration/1":
                raise KeyError("schema")
            fp, fn = data["false_positive"], data["false_negative"]
            return cls(
                metric=str(data["metric"]), higher_is_closer=bool(data["higher_is_closer"]),
                threshold=float(data["threshold"]),
                false_positive=Rate.from_dict(fp), false_negative=Rate.from_dict(fn),
                rule=str(data["rule"]), linked=data["linked_scores"],
                unlinked=data["unlinked_scores"],
                roc_fpr=data["roc"]["false_positive_rate"],
                roc_tpr=data["roc"]["true_positive_rate"], auc=float(data["auc"]),
                simulated=bool(data["simulated"]), method=data.get("method"),
                source=str(data.get("source", "")))
        except (KeyError, TypeError, ValueError) as error:
            raise GcmsError(f"{source}: not a gcms link calibration "
                            f"(schema gcms-link-calibration/1): {error}") from None

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path


def load_calibration(path: str | os.PathLike) -> LinkCalibration:
    """Read a ``calibration.json`` written by :meth:`LinkCalibration.save`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GcmsError(f"{path}: cannot read a calibration: {error}") from None
    if not isinstance(data, dict):
        raise GcmsError(f"{path}: not a gcms link calibration")
    return LinkCalibration.from_dict(data, source=str(path))


def _counts(linked: np.ndarray, unlinked: np.ndarray, thresholds: np.ndarray,
            higher: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: missed linked pairs (FN) and linked-called unlinked pairs (FP)."""
    ls, us = np.sort(linked), np.sort(unlinked)
    if higher:  # link: score >= t
        fn = np.searchsorted(ls, thresholds, "left")
        fp = us.size - np.searchsorted(us, thresholds, "left")
    else:  # link: score <= t
        fn = ls.size - np.searchsorted(ls, thresholds, "right")
        fp = np.searchsorted(us, thresholds, "right")
    return fn, fp


def calibrate(linked_scores: ArrayLike, unlinked_scores: ArrayLike, *,
              higher_is_closer: bool = True, metric: str = "pearson",
              rule: Rule = "min-total-error", max_false_positive_rate: float = 0.01,
              confidence: float = CONFIDENCE, simulated: bool = False,
              method: Mapping[str, Any] | None = None, source: str = "") -> LinkCalibration:
    """Set the linkage threshold from known pairs (module notes: the rules).

    Raises
    ------
    GcmsError
        Fewer than two scores on either side, or a non-finite score.
    """
    linked = np.asarray(linked_scores, dtype=np.float64).ravel()
    unlinked = np.asarray(unlinked_scores, dtype=np.float64).ravel()
    for name, values in (("linked", linked), ("unlinked", unlinked)):
        if values.size < 2:
            raise GcmsError(f"calibration: {values.size} {name} pair scores; at least 2 "
                            "known-linked and 2 known-unlinked pairs are needed")
        if not np.all(np.isfinite(values)):
            raise GcmsError(f"calibration: a {name} pair score is not a finite number")
    # candidate thresholds: every observed score, and midpoints between neighbours
    observed = np.unique(np.concatenate([linked, unlinked]))
    middles = (observed[1:] + observed[:-1]) / 2
    candidates = np.unique(np.concatenate([observed, middles]))
    fn, fp = _counts(linked, unlinked, candidates, higher_is_closer)
    fnr, fpr = fn / linked.size, fp / unlinked.size
    if rule == "min-total-error":
        total = fnr + fpr
        best = np.flatnonzero(total == total.min())
        # among equal totals, the middle of the run (the middle of a gap between the two)
        index = int(best[best.size // 2])
    elif rule == "max-false-positive":
        allowed = np.flatnonzero(fpr <= max_false_positive_rate)
        if allowed.size == 0:
            raise GcmsError(f"calibration: no threshold keeps the false-positive rate at "
                            f"or under {max_false_positive_rate:g}")
        index = int(allowed[np.argmin(fnr[allowed])])
    else:
        raise GcmsError(f"calibration: unknown rule {rule!r}")
    # ROC over the thresholds from strictest to most inclusive
    order = np.argsort(candidates)[::-1] if higher_is_closer else np.argsort(candidates)
    roc_fpr = np.concatenate([[0.0], fpr[order], [1.0]])
    roc_tpr = np.concatenate([[0.0], 1.0 - fnr[order], [1.0]])
    auc = float(np.trapezoid(roc_tpr, roc_fpr))
    return LinkCalibration(
        metric=metric, higher_is_closer=higher_is_closer, threshold=float(candidates[index]),
        false_positive=Rate(int(fp[index]), unlinked.size, confidence),
        false_negative=Rate(int(fn[index]), linked.size, confidence), rule=rule,
        linked=linked, unlinked=unlinked, roc_fpr=roc_fpr, roc_tpr=roc_tpr, auc=auc,
        simulated=simulated, method=method, source=source)


def calibrate_groups(values: ArrayLike, groups: ArrayLike, *, metric: str = "pearson",
                     higher_is_closer: bool = True, rule: Rule = "min-total-error",
                     max_false_positive_rate: float = 0.01, confidence: float = CONFIDENCE,
                     bootstrap: int = 1000, seed: int | None = 0, simulated: bool = False,
                     method: Mapping[str, Any] | None = None,
                     source: str = "") -> LinkCalibration:
    """Calibrate from profiles of known origin: pairs of one group are linked, others not.

    ``values``: the compared vectors (one row per exhibit; rows with NaN are left out);
    ``groups``: each exhibit's origin (batch, seizure). The threshold is :func:`calibrate`'s;
    each rate's interval is widened by a bootstrap over the groups (``bootstrap``
    resamplings of the groups with replacement; the errors and pairs of each resampled set
    counted at the fixed threshold; the percentile interval at ``confidence``), which
    carries the dependence of pairs that share an exhibit or a batch.
    """
    from gcms.profiling.measure import scores

    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups)
    keep = np.all(np.isfinite(v), axis=1)
    v, g = v[keep], g[keep]
    labels, index = np.unique(g, return_inverse=True)
    n, nb = index.size, labels.size
    if nb < 2:
        raise GcmsError("calibration: the exhibits come from fewer than two groups")
    matrix = np.vstack([scores(v[i], v, metric) for i in range(n)]) if n else np.empty((0, 0))
    same = index[:, None] == index[None, :]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    result = calibrate(matrix[upper & same], matrix[upper & ~same],
                       higher_is_closer=higher_is_closer, metric=metric, rule=rule,
                       max_false_positive_rate=max_false_positive_rate,
                       confidence=confidence, simulated=simulated, method=method,
                       source=source)
    link = result.is_link(matrix) & upper
    onehot = np.zeros((n, nb))
    onehot[np.arange(n), index] = 1.0
    # per pair of groups: false positives and pairs; per group: false negatives and pairs
    fp_ab = onehot.T @ (link & ~same) @ onehot
    fp_ab = fp_ab + fp_ab.T
    sizes = onehot.sum(axis=0)
    pairs_ab = np.outer(sizes, sizes)
    np.fill_diagonal(pairs_ab, 0.0)
    fn_a = onehot.T @ ((~link & upper & same).sum(axis=1))
    pairs_a = sizes * (sizes - 1) / 2
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(nb, np.full(nb, 1.0 / nb), size=bootstrap).astype(np.float64)
    # a group drawn twice: its copies are not unlinked pairs of each other (zero diagonal)
    fp = np.einsum("bi,ij,bj->b", weights, fp_ab, weights) / 2
    pairs_unlinked = np.einsum("bi,ij,bj->b", weights, pairs_ab, weights) / 2
    fn, pairs_linked = weights @ fn_a, weights @ pairs_a
    alpha = 1.0 - confidence

    def interval(errors: np.ndarray, pairs: np.ndarray) -> tuple[float, float] | None:
        ok = pairs > 0
        if not ok.any():
            return None
        rates = errors[ok] / pairs[ok]
        return (float(np.quantile(rates, alpha / 2)), float(np.quantile(rates, 1 - alpha / 2)))

    return dataclasses.replace(
        result,
        false_positive=dataclasses.replace(result.false_positive,
                                           bootstrap=interval(fp, pairs_unlinked)),
        false_negative=dataclasses.replace(result.false_negative,
                                           bootstrap=interval(fn, pairs_linked)))


@dataclass(frozen=True, slots=True, eq=False)
class KnownSet:
    """Exhibits of known origin: their ids, groups (batch, seizure) and raw areas."""

    ids: tuple[str, ...]
    groups: tuple[str, ...]
    areas: np.ndarray
    simulated: bool
    source: str


def read_known_set(path: str | os.PathLike, targets: Sequence[str]) -> KnownSet:
    """Read a set of exhibits of known origin (JSON) for :func:`calibrate_groups`.

    The file is what ``gcms profile simulate`` writes, or a lab's own set of the same
    shape: ``{"targets": [...], "simulated": false, "exhibits": [{"id": ..., "batch":
    ..., "areas": [area or null, ...]}, ...]}``, the targets those of the method, in
    its order. Exhibits of one ``batch`` are known-linked, of different ones known-unlinked.

    Raises
    ------
    GcmsError
        Naming the file: unreadable, not that shape, other targets.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if list(data["targets"]) != list(targets):
            raise GcmsError(f"{path}: its targets {data['targets']} are not the method's "
                            f"({', '.join(targets)})")
        rows = data["exhibits"]
        ids = tuple(str(r["id"]) for r in rows)
        groups = tuple(str(r["batch"]) for r in rows)
        areas = np.array([[np.nan if a is None else float(a) for a in r["areas"]]
                          for r in rows], dtype=np.float64).reshape(len(rows), len(targets))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GcmsError(f"{path}: cannot read a set of known exhibits: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise GcmsError(f"{path}: not a set of known exhibits (targets, exhibits with id, "
                        f"batch, areas): {error!r}") from None
    return KnownSet(ids, groups, areas, bool(data.get("simulated", False)), str(path))


def plot_calibration(calibration: LinkCalibration, path: str | os.PathLike) -> Path:
    """PNG: both score distributions with the threshold, and the ROC curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    try:
        both = np.concatenate([calibration.linked, calibration.unlinked])
        bins = np.linspace(both.min(), both.max(), 50)
        left.hist(calibration.unlinked, bins=bins, density=True, alpha=0.55,
                  label=f"unlinked pairs (n = {calibration.unlinked.size})", color="tab:red")
        left.hist(calibration.linked, bins=bins, density=True, alpha=0.55,
                  label=f"linked pairs (n = {calibration.linked.size})", color="tab:blue")
        left.axvline(calibration.threshold, color="black", linestyle="--",
                     label=f"threshold {calibration.threshold:.4g}")
        left.set_xlabel(f"{calibration.metric} score")
        left.set_ylabel("density")
        title = "Score distributions" + (" (SIMULATED pairs)" if calibration.simulated else "")
        left.set_title(title)
        left.legend(fontsize=8)
        right.plot(calibration.roc_fpr, calibration.roc_tpr, color="tab:blue")
        right.plot([0, 1], [0, 1], color="grey", linestyle=":")
        fpr, fnr = calibration.false_positive.rate, calibration.false_negative.rate
        right.plot([fpr], [1 - fnr], "ko", label=f"threshold: FPR {100 * fpr:.2g} %, "
                                                 f"FNR {100 * fnr:.2g} %")
        right.set_xlabel("false-positive rate")
        right.set_ylabel("true-positive rate")
        right.set_title(f"ROC (AUC {calibration.auc:.4f})")
        right.legend(fontsize=8, loc="lower right")
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
    return path


def replace(calibration: LinkCalibration, **changes: Any) -> LinkCalibration:
    """A copy with fields changed."""
    return dataclasses.replace(calibration, **changes)
