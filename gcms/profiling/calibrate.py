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

Among thresholds that tie (the same counts over a range of scores), the one in the middle
of that range is taken, so a threshold never sits on the edge of one distribution; the
``max-false-positive`` rule takes, among the thresholds with the fewest missed links, the
one with the fewest false positives.

**Held-out rates.** Rates counted on the very pairs the threshold was chosen from are
optimistic (the threshold is fitted to them: resubstitution bias; Hastie, Tibshirani &
Friedman, *The Elements of Statistical Learning*, 2nd ed. (2009) §7.10). Each calibration
therefore also states rates estimated by K-fold cross-validation (``folds``, default 5):
the threshold is chosen again, by the same rule, on the pairs outside a fold and its
errors counted on the pairs inside it. :func:`calibrate_groups` folds by group (batch), so
no batch is on both sides (its pairs are not independent); :func:`calibrate` folds the
pairs. Both sets of rates are stated; the held-out ones are what a new case can expect.

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
    #: cross-validated rates (module notes): false positives, false negatives, and how
    held_out: tuple[Rate, Rate, str] | None = None

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
        held = ""
        if self.held_out is not None:
            fp, fn, how = self.held_out
            held = (f"; held out ({how}): false-positive rate {fp.text()}, false-negative "
                    f"rate {fn.text()}")
        return (f"{self.metric} threshold {side} {self.threshold:.4g}{origin}: false-positive "
                f"rate {self.false_positive.text()}, false-negative rate "
                f"{self.false_negative.text()} (on the calibration pairs){held}")

    def quote(self) -> dict[str, Any]:
        """What a link stores of its calibration (threshold and rates, not the scores)."""
        return {"metric": self.metric, "higher_is_closer": self.higher_is_closer,
                "threshold": self.threshold, "rule": self.rule, "simulated": self.simulated,
                "false_positive": self.false_positive.to_dict(),
                "false_negative": self.false_negative.to_dict(),
                "held_out": None if self.held_out is None else {
                    "false_positive": self.held_out[0].to_dict(),
                    "false_negative": self.held_out[1].to_dict(), "how": self.held_out[2]},
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
            held = data.get("held_out")
            return cls(
                held_out=None if not held else (Rate.from_dict(held["false_positive"]),
                                                Rate.from_dict(held["false_negative"]),
                                                str(held["how"])),
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


def _candidates(linked: np.ndarray, unlinked: np.ndarray) -> np.ndarray:
    """Every observed score and the midpoints between neighbours, ascending."""
    observed = np.unique(np.concatenate([linked, unlinked]))
    return np.unique(np.concatenate([observed, (observed[1:] + observed[:-1]) / 2]))


def _choose(linked: np.ndarray, unlinked: np.ndarray, higher: bool, rule: str,
            max_false_positive_rate: float) -> tuple[float, int, int]:
    """The threshold by ``rule`` (module notes) and its false negatives and positives."""
    candidates = _candidates(linked, unlinked)
    fn, fp = _counts(linked, unlinked, candidates, higher)
    nl, nu = linked.size, unlinked.size
    if rule == "min-total-error":
        total = fn * nu + fp * nl  # FNR + FPR in whole numbers: ties are exact
        best = total == total.min()
    elif rule == "max-false-positive":
        allowed = fp <= max_false_positive_rate * nu
        if not allowed.any():
            raise GcmsError(f"calibration: no threshold keeps the false-positive rate at "
                            f"or under {max_false_positive_rate:g}")
        best = allowed & (fn == fn[allowed].min())
        best &= fp == fp[best].min()  # fewest missed links, then fewest false positives
    else:
        raise GcmsError(f"calibration: unknown rule {rule!r}")
    where = np.flatnonzero(best)
    index = int(where[where.size // 2])
    # the run of tied candidates around it, and the middle of the scores where it holds:
    # link if score >= t holds the same counts on (c[i-1], c[j]]; if <= t, on [c[i], c[j+1])
    i = j = index
    while i > 0 and best[i - 1]:
        i -= 1
    while j + 1 < candidates.size and best[j + 1]:
        j += 1
    if higher and i > 0:
        threshold = (candidates[i - 1] + candidates[j]) / 2
    elif not higher and j + 1 < candidates.size:
        threshold = (candidates[i] + candidates[j + 1]) / 2
    else:
        threshold = candidates[(i + j) // 2]
    fn_t, fp_t = _counts(linked, unlinked, np.array([threshold]), higher)
    if (int(fn_t[0]), int(fp_t[0])) != (int(fn[index]), int(fp[index])):
        threshold = candidates[index]  # a linked and an unlinked score tied inside the run
        fn_t, fp_t = fn[index:index + 1], fp[index:index + 1]
    return float(threshold), int(fn_t[0]), int(fp_t[0])


def _held_out(linked: Sequence[np.ndarray], unlinked: Sequence[np.ndarray], higher: bool,
              rule: str, max_false_positive_rate: float, confidence: float
              ) -> tuple[Rate, Rate, list[float | None]] | None:
    """Cross-validated rates: per fold, the threshold chosen on the other folds' pairs.

    Also returns each fold's threshold (None: the fold was not held out).
    """
    errors_fp = errors_fn = pairs_fp = pairs_fn = 0
    thresholds: list[float | None] = [None] * len(linked)
    for k in range(len(linked)):
        train_l = np.concatenate([x for i, x in enumerate(linked) if i != k])
        train_u = np.concatenate([x for i, x in enumerate(unlinked) if i != k])
        if train_l.size < 2 or train_u.size < 2 or linked[k].size + unlinked[k].size == 0:
            continue
        try:
            t, _, _ = _choose(train_l, train_u, higher, rule, max_false_positive_rate)
        except GcmsError:
            continue  # no threshold meets the rule on this fold's training pairs
        thresholds[k] = t
        fn, fp = _counts(linked[k], unlinked[k], np.array([t]), higher)
        errors_fn, errors_fp = errors_fn + int(fn[0]), errors_fp + int(fp[0])
        pairs_fn, pairs_fp = pairs_fn + linked[k].size, pairs_fp + unlinked[k].size
    if not pairs_fn or not pairs_fp:
        return None
    return (Rate(errors_fp, pairs_fp, confidence), Rate(errors_fn, pairs_fn, confidence),
            thresholds)


def calibrate(linked_scores: ArrayLike, unlinked_scores: ArrayLike, *,
              higher_is_closer: bool = True, metric: str = "pearson",
              rule: Rule = "min-total-error", max_false_positive_rate: float = 0.01,
              confidence: float = CONFIDENCE, simulated: bool = False,
              method: Mapping[str, Any] | None = None, source: str = "", folds: int = 5,
              seed: int | None = 0) -> LinkCalibration:
    """Set the linkage threshold from known pairs (module notes: the rules).

    ``folds``: the K of the cross-validation over the pairs that gives the held-out rates
    (0: none); ``seed`` draws the folds.

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
    threshold, fn_at, fp_at = _choose(linked, unlinked, higher_is_closer, rule,
                                      max_false_positive_rate)
    candidates = _candidates(linked, unlinked)
    fn, fp = _counts(linked, unlinked, candidates, higher_is_closer)
    fnr, fpr = fn / linked.size, fp / unlinked.size
    # ROC over the thresholds from strictest to most inclusive
    order = np.argsort(candidates)[::-1] if higher_is_closer else np.argsort(candidates)
    roc_fpr = np.concatenate([[0.0], fpr[order], [1.0]])
    roc_tpr = np.concatenate([[0.0], 1.0 - fnr[order], [1.0]])
    auc = float(np.trapezoid(roc_tpr, roc_fpr))
    return LinkCalibration(
        metric=metric, higher_is_closer=higher_is_closer, threshold=threshold,
        false_positive=Rate(fp_at, unlinked.size, confidence),
        false_negative=Rate(fn_at, linked.size, confidence), rule=rule,
        linked=linked, unlinked=unlinked, roc_fpr=roc_fpr, roc_tpr=roc_tpr, auc=auc,
        simulated=simulated, method=method, source=source,
        held_out=_fold_pairs(linked, unlinked, folds, seed, higher_is_closer, rule,
                             max_false_positive_rate, confidence))


def _fold_pairs(linked: np.ndarray, unlinked: np.ndarray, folds: int, seed: int | None,
                higher: bool, rule: str, max_fpr: float, confidence: float
                ) -> tuple[Rate, Rate, str] | None:
    k = min(folds, linked.size, unlinked.size)
    if k < 2:
        return None
    rng = np.random.default_rng(seed)
    fold_l = rng.permutation(linked.size) % k
    fold_u = rng.permutation(unlinked.size) % k
    rates = _held_out([linked[fold_l == i] for i in range(k)],
                      [unlinked[fold_u == i] for i in range(k)], higher, rule, max_fpr,
                      confidence)
    return None if rates is None else (rates[0], rates[1],
                                       f"{k}-fold cross-validation over the pairs")


def calibrate_groups(values: ArrayLike, groups: ArrayLike, *, metric: str = "pearson",
                     higher_is_closer: bool = True, rule: Rule = "min-total-error",
                     max_false_positive_rate: float = 0.01, confidence: float = CONFIDENCE,
                     bootstrap: int = 1000, seed: int | None = 0, simulated: bool = False,
                     method: Mapping[str, Any] | None = None,
                     source: str = "", folds: int = 5) -> LinkCalibration:
    """Calibrate from profiles of known origin: pairs of one group are linked, others not.

    ``values``: the compared vectors (one row per exhibit; rows with NaN are left out);
    ``groups``: each exhibit's origin (batch, seizure). The threshold is :func:`calibrate`'s;
    each rate's interval is widened by a bootstrap over the groups (``bootstrap``
    resamplings of the groups with replacement; the errors and pairs of each resampled set
    counted at the fixed threshold; the percentile interval at ``confidence``), which
    carries the dependence of pairs that share an exhibit or a batch. The held-out rates
    come from ``folds``-fold cross-validation over the groups: a fold's groups are left
    out, the threshold chosen again on the pairs within the other folds, and counted on
    the pairs within the left-out fold (pairs across folds are used for neither).
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
                       source=source, folds=0)
    onehot = np.zeros((n, nb))
    onehot[np.arange(n), index] = 1.0
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(nb, np.full(nb, 1.0 / nb), size=bootstrap).astype(np.float64)
    alpha = 1.0 - confidence

    def intervals(link: np.ndarray, considered: np.ndarray) -> tuple[Any, Any]:
        """Bootstrap intervals of the FP and FN rates of ``link`` over ``considered`` pairs."""
        # per pair of groups: false positives and pairs; per group: false negatives, pairs
        fp_ab = onehot.T @ (link & considered & ~same) @ onehot
        pairs_ab = onehot.T @ (considered & ~same) @ onehot
        fp_ab, pairs_ab = fp_ab + fp_ab.T, pairs_ab + pairs_ab.T
        fn_a = onehot.T @ ((~link & considered & same).sum(axis=1))
        pairs_a = onehot.T @ ((considered & same).sum(axis=1))
        # a group drawn twice: its copies are not unlinked pairs of each other (zero diagonal)
        fp = np.einsum("bi,ij,bj->b", weights, fp_ab, weights) / 2
        pairs_unlinked = np.einsum("bi,ij,bj->b", weights, pairs_ab, weights) / 2
        return (_percentile(fp, pairs_unlinked, alpha),
                _percentile(weights @ fn_a, weights @ pairs_a, alpha))

    fp_boot, fn_boot = intervals(result.is_link(matrix) & upper, upper)
    held = None
    k = min(folds, nb)
    if k >= 2:
        fold = np.random.default_rng(seed).permutation(nb)[index] % k  # each exhibit's
        inside = [upper & (fold[:, None] == i) & (fold[None, :] == i) for i in range(k)]
        rates = _held_out([matrix[m & same] for m in inside],
                          [matrix[m & ~same] for m in inside], higher_is_closer, rule,
                          max_false_positive_rate, confidence)
        if rates is not None:
            # the held-out pairs share exhibits and batches too: the same group bootstrap
            # over each fold's pairs judged by that fold's threshold
            link = np.zeros((n, n), dtype=bool)
            considered = np.zeros((n, n), dtype=bool)
            for mask, t in zip(inside, rates[2], strict=True):
                if t is not None:
                    link |= mask & dataclasses.replace(result, threshold=t).is_link(matrix)
                    considered |= mask
            held_fp, held_fn = intervals(link, considered)
            held = (dataclasses.replace(rates[0], bootstrap=held_fp),
                    dataclasses.replace(rates[1], bootstrap=held_fn),
                    f"{k}-fold cross-validation over the groups")
    return dataclasses.replace(
        result, held_out=held,
        false_positive=dataclasses.replace(result.false_positive, bootstrap=fp_boot),
        false_negative=dataclasses.replace(result.false_negative, bootstrap=fn_boot))


def _percentile(errors: np.ndarray, pairs: np.ndarray, alpha: float
                ) -> tuple[float, float] | None:
    """The percentile interval of the bootstrap rates (resamplings with pairs only)."""
    ok = pairs > 0
    if not ok.any():
        return None
    rates = errors[ok] / pairs[ok]
    return (float(np.quantile(rates, alpha / 2)), float(np.quantile(rates, 1 - alpha / 2)))


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
