"""The seizure database: profiles and links in the case store's database, searched and clustered.

Profiles and links live in their own tables (``profiling_profiles``, ``profiling_links``,
``profiling_calibrations``) of the same database as the case store: a store folder's SQLite
file or a PostgreSQL URL (:func:`gcms.custody._db.resolve_location`, whose engines take the
store's write lock). A profile is one seizure (exhibit): its case, exhibit, seizure date,
place and drug, the method (name and SHA-256) and run (SHA-256) it was measured with, its raw
areas (absent targets as ``null``) and the compared vector.

**Search.** The compared vectors of one method are held in a matrix cached from the table
(rows added since the last search are read on the next one); a new profile is scored against
all of them in one vectorised pass (:func:`gcms.profiling.measure.scores`), so 100,000
stored profiles are searched in milliseconds (``benchmarks/profiling_search.py``).

**Links.** :meth:`ProfileStore.add_profile` compares every new profile against the database
and records a link for each stored profile at or past the threshold of the method's
calibration (:meth:`ProfileStore.set_calibration`); each link keeps its score and the
calibration's quote (threshold, rule, false-positive and false-negative rates with their
intervals, whether it was calibrated on simulated pairs), and every report of it quotes
them. A link is evidence of a common origin, not proof of it.

**Clusters and export.** Linked seizures form clusters (connected components of the link
graph, :func:`scipy.sparse.csgraph.connected_components`); :meth:`ProfileStore.export`
writes CSV nodes and edges and GraphML for link-analysis tools.

**Custody.** Every row is written in the same transaction as its audit entry, appended
through the case store's single write path (:mod:`gcms.custody.profiles`): a profile and
its links in the chain of the profile's case (a case not in the store is refused), a
calibration and an import as lab-level entries; each entry names the acting, enrolled user
and the SHA-256 of the rows. ``gcms custody verify`` names any row edited, added or deleted
outside the store, and the reads here (a profile, links, a calibration, search results,
exports) refuse such a row with :class:`gcms.errors.TamperError`. The seizure database
therefore lives in a case store: open one (``gcms store``/``CaseStore``) first.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import sqlalchemy as sa

from gcms.custody._db import make_engine, resolve_location
from gcms.custody.profiles import (
    append_calibration,
    append_import,
    append_profile,
    check_rows,
    latest_calibration,
)
from gcms.errors import CustodyError, GcmsError, TamperError
from gcms.identifiers import spreadsheet_safe_row
from gcms.profiling.calibrate import LinkCalibration
from gcms.profiling.measure import Profile, scores
from gcms.profiling.method import ProfilingMethod

__all__ = ["LIMITATION", "Link", "Match", "ProfileStore", "SeizureInfo"]

#: The sentence every linkage output carries.
LIMITATION = ("A link is evidence that two seizures may share a common origin (production "
              "batch), not proof of it; it is a lead for investigators, weighed with the "
              "stated error rates and the other evidence.")

_metadata = sa.MetaData()
profiles_table = sa.Table(
    "profiling_profiles", _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("profile_id", sa.String(40), nullable=False, unique=True),
    sa.Column("method_name", sa.Text, nullable=False),
    sa.Column("method_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("case_id", sa.Text),
    sa.Column("exhibit_id", sa.Text),
    sa.Column("seized_on", sa.Text),
    sa.Column("place", sa.Text),
    sa.Column("drug", sa.Text),
    sa.Column("targets", sa.Text, nullable=False),
    sa.Column("areas", sa.Text, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("run_sha256", sa.String(64)),
    sa.Column("sample_name", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("custody", sa.Text),
    sa.Column("detail", sa.Text),
)
links_table = sa.Table(
    "profiling_links", _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("profile_a", sa.String(40), nullable=False, index=True),
    sa.Column("profile_b", sa.String(40), nullable=False, index=True),
    sa.Column("method_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("calibration", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text),
)
calibrations_table = sa.Table(
    "profiling_calibrations", _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("method_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text),
)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class SeizureInfo:
    """What a node of the link graph says of a seizure."""

    case_id: str | None = None
    exhibit_id: str | None = None
    seized_on: str | None = None
    place: str | None = None
    drug: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A stored profile as a search returns it: who it is, its score, whether it links."""

    profile_id: str
    seizure: SeizureInfo
    score: float
    linked: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"profile_id": self.profile_id, **dataclasses.asdict(self.seizure),
                "score": self.score, "linked": self.linked}


@dataclass(frozen=True, slots=True)
class Link:
    """A recorded link: two profiles, the score, and the calibration it was judged by."""

    profile_a: str
    profile_b: str
    score: float
    calibration: Mapping[str, Any]

    @property
    def threshold(self) -> float:
        """The threshold the score was judged against."""
        return float(self.calibration["threshold"])

    def sentence(self) -> str:
        """``P1 - P2: pearson 0.982; threshold ... rates ...`` (what every report quotes)."""
        return (f"{self.profile_a} - {self.profile_b}: score {self.score:.4g}; "
                f"{self.calibration['statement']}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"profile_a": self.profile_a, "profile_b": self.profile_b, "score": self.score,
                "threshold": self.threshold, "calibration": dict(self.calibration),
                "statement": self.sentence(), "limitation": LIMITATION}


@dataclass
class _Cache:
    last_id: int
    ids: list[str]
    matrix: np.ndarray


class ProfileStore:
    """Profiles and links in a case store's database (module notes).

    Parameters
    ----------
    location
        Store folder (SQLite) or database URL; ``None``: ``GCMS_STORE`` or the default.
    actor
        Who adds profiles (recorded with each row; the custody entry needs an enrolled
        user). Default: ``GCMS_ACTOR`` or the login name.
    create
        Create the database and tables when absent.
    """

    def __init__(self, location: str | os.PathLike | None = None, *,
                 actor: str | None = None, create: bool = True) -> None:
        self._location = location
        url, self.location = resolve_location(location, create=create)
        self._engine = make_engine(url)
        self.actor = actor
        self._cache: dict[str, _Cache] = {}
        try:
            with self._engine.begin() as conn:
                _metadata.create_all(conn, checkfirst=True)
        except sa.exc.SQLAlchemyError as error:
            self._engine.dispose()
            raise CustodyError(f"{self.location}: cannot open the profile tables: "
                               f"{error.__class__.__name__}: {error}") from None

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _who(self) -> str | None:
        if self.actor:
            return self.actor
        from gcms.custody.store import default_actor

        try:
            return default_actor()
        except CustodyError:
            return None

    @contextmanager
    def _custody(self) -> Iterator[Any]:
        """One write transaction of the case store (its writer): rows and entry together."""
        from gcms.custody import CaseStore

        try:
            cases = CaseStore(self._location, actor=self.actor, create=False)
        except CustodyError as error:
            raise CustodyError(f"{self.location}: profiles, links and thresholds are "
                               f"recorded in a case store's custody chain and this is not "
                               f"one ({error})") from None
        with cases, cases._writing() as writer:
            yield writer

    def _checked(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        with self._engine.connect() as conn:
            check_rows(conn, kind, rows, self.location)

    # -- calibrations ---------------------------------------------------------------

    def set_calibration(self, method: ProfilingMethod, calibration: LinkCalibration, *,
                        key: Any = None) -> None:
        """Make ``calibration`` the one links of ``method`` are judged by from now on.

        ``key``: the actor's registered signing key (:class:`gcms.custody.SigningKey`),
        which proves the ``profiling.calibrate`` entry; without it the store refuses.
        """
        if calibration.metric != method.profile.metric:
            raise GcmsError(f"calibration for metric {calibration.metric!r}; method "
                            f"{method.name!r} compares by {method.profile.metric!r}")
        with self._custody() as w:
            row = {"method_sha256": _sha(method), "data": json.dumps(calibration.to_dict()),
                   "created_at": _now(), "created_by": w.store.actor}
            result = w.conn.execute(calibrations_table.insert().values(**row))
            append_calibration(w, {"id": int(result.inserted_primary_key[0]), **row},
                               signer=key)

    def calibration(self, method: ProfilingMethod) -> LinkCalibration | None:
        """The latest calibration of ``method`` (None when none was set)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(calibrations_table)
                               .where(calibrations_table.c.method_sha256 == _sha(method))
                               .order_by(calibrations_table.c.id.desc()).limit(1)).first()
            latest = latest_calibration(conn, _sha(method))
        if row is None and latest is None:
            return None
        if row is None or row.id != latest:
            raise TamperError(f"{self.location}: the chain's latest threshold for method "
                              f"{method.name!r} is calibration {latest}, but the table's is "
                              f"{None if row is None else row.id}: a row was deleted or added "
                              "('gcms custody verify')")
        self._checked("calibration", [row._mapping])
        return LinkCalibration.from_dict(json.loads(row.data), source=self.location)

    # -- adding ---------------------------------------------------------------------

    def add_profiles(self, method: ProfilingMethod, profiles: Sequence[Profile],
                     seizures: Sequence[SeizureInfo], *, source: str) -> list[str]:
        """Import many profiles at once without linking them (another lab's, a benchmark's).

        ``source`` names where they come from; they are recorded as one lab-level
        ``profiling.import`` entry (:mod:`gcms.custody.profiles`): intelligence from that
        source, not exhibits of this lab's cases. Returns their profile ids.
        """
        if len(profiles) != len(seizures):
            raise GcmsError(f"{len(profiles)} profiles and {len(seizures)} seizures")
        if not profiles:
            return []
        with self._custody() as w:
            rows = [self._row(method, p, s, w.store.actor)
                    for p, s in zip(profiles, seizures, strict=True)]
            seq = append_import(w, "IM" + uuid.uuid4().hex[:16], source, rows)
            note = json.dumps({"recorded": True, "entry_seq": seq, "imported_from": source})
            w.conn.execute(profiles_table.insert(), [{**r, "custody": note} for r in rows])
        return [r["profile_id"] for r in rows]

    def _row(self, method: ProfilingMethod, profile: Profile, seizure: SeizureInfo,
             actor: str | None = None) -> dict[str, Any]:
        targets = tuple(t.name for t in method.profile_targets)
        if profile.targets != targets:
            raise GcmsError(f"profile of {profile.sample_name or '?'}: its targets are not "
                            f"those of method {method.name!r}")
        if not profile.usable:
            raise GcmsError(f"profile of {profile.sample_name or '?'}: no target found, "
                            "nothing to store for comparison")
        return {
            "profile_id": "PR" + uuid.uuid4().hex[:16], "method_name": method.name,
            "method_sha256": _sha(method), **dataclasses.asdict(seizure),
            "targets": json.dumps(list(targets)),
            "areas": json.dumps([float(a) if np.isfinite(a) else None for a in profile.areas]),
            "vector": np.ascontiguousarray(profile.values, dtype="<f8").tobytes(),
            "run_sha256": profile.run_sha256, "sample_name": profile.sample_name,
            "created_at": _now(), "created_by": actor or self._who(), "custody": None,
            "detail": None,
        }

    def add_profile(self, method: ProfilingMethod, profile: Profile, seizure: SeizureInfo, *,
                    calibration: LinkCalibration | None = None, link: bool = True
                    ) -> tuple[str, list[Link]]:
        """Store one seizure's profile, link it to the database, and record both in custody.

        The new profile is scored against every stored profile of the method; each at or
        past the threshold of ``calibration`` (default: the method's, see
        :meth:`set_calibration`) becomes a :class:`Link`. Without a calibration nothing is
        linked (there is no threshold to state). The search, the rows and the audit entry
        (``profiling.profile`` in the chain of the seizure's case, naming the actor and
        the rows' SHA-256) are one write transaction of the case store, under its write
        lock, so two seizures added at once still see, and link to, each other. Returns
        the profile id and its links.

        Raises
        ------
        CustodyError
            The seizure names no case of the store, or the actor may not write to it.
        """
        calibration = calibration or (self.calibration(method) if link else None)
        links: list[Link] = []
        with self._custody() as w:
            row = self._row(method, profile, seizure, w.store.actor)
            row["detail"] = json.dumps(profile.to_dict())
            if w.conn.dialect.name == "postgresql":
                w.conn.execute(sa.text("LOCK TABLE profiling_profiles IN SHARE ROW "
                                       "EXCLUSIVE MODE"))
            if link and calibration is not None:
                matches = self.search(method, profile.values, k=None, calibration=calibration)
                quote = calibration.quote()
                links = [Link(row["profile_id"], m.profile_id, m.score, quote)
                         for m in matches if m.linked]
            link_rows = [{"profile_a": lk.profile_a, "profile_b": lk.profile_b,
                          "method_sha256": _sha(method), "score": float(lk.score),
                          "calibration": json.dumps(dict(lk.calibration)),
                          "created_at": _now(), "created_by": w.store.actor} for lk in links]
            seq = append_profile(w, row, link_rows)
            row["custody"] = json.dumps({"recorded": True, "case_id": seizure.case_id,
                                         "entry_seq": seq})
            w.conn.execute(profiles_table.insert().values(**row))
            if link_rows:
                w.conn.execute(links_table.insert(), link_rows)
        return row["profile_id"], links

    # -- reading --------------------------------------------------------------------

    def _matrix(self, method_sha256: str) -> _Cache:
        cache = self._cache.get(method_sha256) or _Cache(0, [], np.empty((0, 0)))
        query = (sa.select(profiles_table.c.id, profiles_table.c.profile_id,
                           profiles_table.c.vector)
                 .where(profiles_table.c.method_sha256 == method_sha256)
                 .where(profiles_table.c.id > cache.last_id).order_by(profiles_table.c.id))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        if rows:
            new = np.frombuffer(b"".join(r.vector for r in rows), dtype="<f8")
            new = new.reshape(len(rows), -1)
            matrix = new if cache.matrix.size == 0 else np.vstack([cache.matrix, new])
            cache = _Cache(rows[-1].id, cache.ids + [r.profile_id for r in rows], matrix)
            self._cache[method_sha256] = cache
        return cache

    def seizure(self, profile_id: str) -> SeizureInfo:
        """The seizure of a stored profile (GcmsError when unknown)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(profiles_table).where(
                profiles_table.c.profile_id == profile_id)).first()
        if row is None:
            raise GcmsError(f"{self.location}: no profile {profile_id!r}")
        self._checked("profile", [row._mapping])
        return SeizureInfo(row.case_id, row.exhibit_id, row.seized_on, row.place, row.drug)

    def profile_record(self, profile_id: str) -> dict[str, Any]:
        """A stored profile as a dict (areas with absent as None, values, custody note)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(profiles_table).where(
                profiles_table.c.profile_id == profile_id)).first()
        if row is None:
            raise GcmsError(f"{self.location}: no profile {profile_id!r}")
        self._checked("profile", [row._mapping])
        out = dict(row._mapping)
        out.pop("id")
        out["values"] = np.frombuffer(out.pop("vector"), dtype="<f8").tolist()
        out["targets"] = json.loads(out["targets"])
        out["areas"] = json.loads(out["areas"])
        out["custody"] = json.loads(out["custody"]) if out["custody"] else None
        out["detail"] = json.loads(out["detail"]) if out["detail"] else None
        return out

    def count(self, method: ProfilingMethod | None = None) -> int:
        """How many profiles are stored (of ``method``, or all)."""
        query = sa.select(sa.func.count()).select_from(profiles_table)
        if method is not None:
            query = query.where(profiles_table.c.method_sha256 == _sha(method))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def search(self, method: ProfilingMethod, values: np.ndarray | Profile, *,
               k: int | None = 10, calibration: LinkCalibration | None = None,
               exclude: Iterable[str] = ()) -> list[Match]:
        """The stored profiles closest to ``values`` (best first; all when ``k`` is None).

        One vectorised pass over the cached matrix of the method's profiles. ``linked``
        says whether each score is a link under ``calibration`` (None without one).
        """
        query = values.values if isinstance(values, Profile) else np.asarray(values, float)
        cache = self._matrix(_sha(method))
        if not cache.ids:
            return []
        if cache.matrix.shape[1] != query.size:
            raise GcmsError(f"a query of {query.size} values for profiles of "
                            f"{cache.matrix.shape[1]}")
        s = scores(query, cache.matrix, method.profile.metric)
        closeness = s if method.profile.higher_is_closer else -s
        skip = set(exclude)
        count = len(cache.ids) if k is None else min(k + len(skip), len(cache.ids))
        if count < len(cache.ids):
            top = np.argpartition(-closeness, count - 1)[:count]
        else:
            top = np.arange(len(cache.ids))
        top = top[np.argsort(-closeness[top], kind="stable")]
        if calibration is not None and k is None:
            top = top[calibration.is_link(s[top])]  # all: only the links
        chosen = [int(i) for i in top if cache.ids[i] not in skip][:k]
        info = self._seizures([cache.ids[i] for i in chosen], check=True)
        return [Match(cache.ids[i], info[cache.ids[i]], float(s[i]),
                      None if calibration is None else bool(calibration.is_link(s[i])))
                for i in chosen]

    def _seizures(self, profile_ids: list[str], *, check: bool = False
                  ) -> dict[str, SeizureInfo]:
        """Who each profile is; with ``check``, its row checked against its audit entry."""
        out: dict[str, SeizureInfo] = {}
        t = profiles_table.c
        with self._engine.connect() as conn:
            for start in range(0, len(profile_ids), 500):
                part = profile_ids[start:start + 500]
                rows = [r._mapping for r in conn.execute(
                    sa.select(profiles_table).where(t.profile_id.in_(part)))]
                if check:
                    check_rows(conn, "profile", rows, self.location)
                for row in rows:
                    out[row["profile_id"]] = SeizureInfo(
                        row["case_id"], row["exhibit_id"], row["seized_on"], row["place"],
                        row["drug"])
        return out

    def links(self, method: ProfilingMethod, profile_id: str | None = None) -> list[Link]:
        """The recorded links of ``method`` (of one profile, or all)."""
        t = links_table.c
        query = sa.select(links_table).where(t.method_sha256 == _sha(method)).order_by(t.id)
        if profile_id is not None:
            query = query.where(sa.or_(t.profile_a == profile_id, t.profile_b == profile_id))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            check_rows(conn, "link", [r._mapping for r in rows], self.location)
        return [Link(r.profile_a, r.profile_b, float(r.score), json.loads(r.calibration))
                for r in rows]

    # -- clusters and export ----------------------------------------------------------

    def clusters(self, method: ProfilingMethod) -> list[list[str]]:
        """Linked seizures: connected components of the link graph (largest first).

        Profiles without a link are left out (a cluster has two seizures at least).
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        links = self.links(method)
        if not links:
            return []
        ids = sorted({p for lk in links for p in (lk.profile_a, lk.profile_b)})
        index = {p: i for i, p in enumerate(ids)}
        a = np.array([index[lk.profile_a] for lk in links])
        b = np.array([index[lk.profile_b] for lk in links])
        graph = coo_matrix((np.ones(a.size), (a, b)), shape=(len(ids), len(ids)))
        _, labels = connected_components(graph, directed=False)
        groups: dict[int, list[str]] = {}
        for pid, label in zip(ids, labels, strict=True):
            groups.setdefault(int(label), []).append(pid)
        return sorted(groups.values(), key=lambda g: (-len(g), g[0]))

    def export(self, method: ProfilingMethod, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``nodes.csv``, ``edges.csv`` and ``links.graphml`` for link-analysis tools.

        One node per stored seizure of the method (case, exhibit, date, place, drug,
        cluster), one edge per link (score, threshold, metric, both error rates and their
        intervals, and the held-out rates where the calibration states them). CSV cells are
        made safe for spreadsheets.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cluster_of = {pid: f"C{i + 1}" for i, group in enumerate(self.clusters(method))
                      for pid in group}
        t = profiles_table.c
        with self._engine.connect() as conn:
            nodes = conn.execute(sa.select(profiles_table)
                                 .where(t.method_sha256 == _sha(method))
                                 .order_by(t.id)).all()
            check_rows(conn, "profile", [n._mapping for n in nodes], self.location)
        links = self.links(method)
        node_fields = ["id", "case_id", "exhibit_id", "seized_on", "place", "drug", "method",
                       "cluster"]
        edge_fields = ["source", "target", "score", "threshold", "metric",
                       "false_positive_rate", "false_positive_ci_low",
                       "false_positive_ci_high", "false_negative_rate",
                       "false_negative_ci_low", "false_negative_ci_high",
                       "held_out_false_positive_rate", "held_out_false_negative_rate",
                       "calibrated_on_simulated_pairs"]
        node_rows = [[n.profile_id, n.case_id, n.exhibit_id, n.seized_on, n.place, n.drug,
                      n.method_name, cluster_of.get(n.profile_id, "")] for n in nodes]
        edge_rows = []
        for lk in links:
            c = lk.calibration
            fp, fn = c["false_positive"], c["false_negative"]
            held = c.get("held_out") or {}
            edge_rows.append([lk.profile_a, lk.profile_b, lk.score, lk.threshold, c["metric"],
                              fp["rate"], *fp["interval"], fn["rate"], *fn["interval"],
                              (held.get("false_positive") or {}).get("rate"),
                              (held.get("false_negative") or {}).get("rate"),
                              bool(c.get("simulated"))])
        paths = {"nodes": folder / "nodes.csv", "edges": folder / "edges.csv",
                 "graphml": folder / "links.graphml"}
        for key, header, rows in (("nodes", node_fields, node_rows),
                                  ("edges", edge_fields, edge_rows)):
            with open(paths[key], "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                for row in rows:
                    writer.writerow(spreadsheet_safe_row(["" if v is None else v
                                                          for v in row]))
        _write_graphml(paths["graphml"], node_fields, node_rows, edge_fields, edge_rows)
        return paths


def _sha(method: ProfilingMethod) -> str:
    if not method.sha256:
        raise GcmsError(f"method {method.name!r} has no SHA-256: load it from its file")
    return method.sha256


def _write_graphml(path: Path, node_fields: list[str], node_rows: list[list[Any]],
                   edge_fields: list[str], edge_rows: list[list[Any]]) -> None:
    """GraphML 1.0 (http://graphml.graphdrawing.org): typed keys, one node per seizure."""
    ns = "http://graphml.graphdrawing.org/xmlns"
    ElementTree.register_namespace("", ns)
    root = ElementTree.Element(f"{{{ns}}}graphml")

    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, (int, float)):
            return "double"
        return "string"

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    for domain, names, rows in (("node", node_fields[1:], [r[1:] for r in node_rows]),
                                ("edge", edge_fields[2:], [r[2:] for r in edge_rows])):
        for j, name in enumerate(names):
            sample = next((r[j] for r in rows if r[j] is not None), "")
            ElementTree.SubElement(root, f"{{{ns}}}key", {
                "id": f"{domain[0]}_{name}", "for": domain, "attr.name": name,
                "attr.type": kind(sample)})
    graph = ElementTree.SubElement(root, f"{{{ns}}}graph",
                                   {"id": "seizures", "edgedefault": "undirected"})
    for row in node_rows:
        node = ElementTree.SubElement(graph, f"{{{ns}}}node", {"id": str(row[0])})
        for name, value in zip(node_fields[1:], row[1:], strict=True):
            if value not in (None, ""):
                ElementTree.SubElement(node, f"{{{ns}}}data",
                                       {"key": f"n_{name}"}).text = text(value)
    for i, row in enumerate(edge_rows):
        edge = ElementTree.SubElement(graph, f"{{{ns}}}edge", {
            "id": f"e{i + 1}", "source": str(row[0]), "target": str(row[1])})
        for name, value in zip(edge_fields[2:], row[2:], strict=True):
            if value is not None:  # absent (a calibration without held-out rates)
                ElementTree.SubElement(edge, f"{{{ns}}}data",
                                       {"key": f"e_{name}"}).text = text(value)
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
