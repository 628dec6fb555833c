"""Cases, exhibits as received, and their custody transfers (part of ``CaseStore``)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta

import sqlalchemy as sa

from gcms.custody._ledger import StoreCore, _identifier, _latest_query
from gcms.custody.canonical import parse_utc, utc_iso, utc_now
from gcms.custody.records import Case, CustodyTransfer, Exhibit, parse_weight
from gcms.errors import CustodyError

#: Clock difference tolerated between machines (seconds) when a time a person gives is
#: checked against now: a receipt or hand-over later than that is refused.
CLOCK_SKEW_S = 300


def _not_future(moment: str, what: str) -> str:
    limit = utc_iso(utc_now() + timedelta(seconds=CLOCK_SKEW_S))
    if moment > limit:  # same fixed-width UTC form: text order is time order
        raise CustodyError(f"{what}: {moment} is in the future")
    return moment


def _seals(values: Sequence[str] | str | None, exhibit_id: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise CustodyError(f"exhibit {exhibit_id}: seal numbers must be non-empty text")
        out.append(value.strip())
    return tuple(out)


class IntakeMixin(StoreCore):
    """Opening cases, receiving and registering exhibits, recording hand-overs."""

    def open_case(self, case_id: str, *, title: str | None = None,
                  submitting_agency: str | None = None, agency_reference: str | None = None,
                  notes: str | None = None, reason: str | None = None) -> Case:
        """Open a new case; refuses an identifier already in use.

        ``reason``, when given, is kept in the audit entry (e.g. opened by a batch).
        """
        case = Case(_identifier(case_id, "case_id", "case"), secrets.token_hex(32), title,
                    submitting_agency, agency_reference, notes)
        with self._writing() as w:
            if self._current(w.conn, "case", case_id, case_id) is not None:
                raise CustodyError(f"case {case_id!r}: already exists in {self.location}")
            w.put("case.open", case, reason=reason)
        return case

    def receive_exhibit(
        self, case_id: str, exhibit_id: str, *, description: str,
        seal_numbers: Sequence[str] = (), packaging: str | None = None,
        gross_weight: str | None = None, net_weight: str | None = None,
        item_count: int | None = None, received_from: str | None = None,
        received_by: str | None = None, received_at: str | None = None,
        condition: str | None = None,
    ) -> Exhibit:
        """Record an exhibit as received (weights as ``"12.50 g"``; times ISO 8601).

        ``received_by`` defaults to the acting user and ``received_at`` to now.
        """
        if not description or not description.strip():
            raise CustodyError(f"exhibit {exhibit_id!r}: a description is required")
        gross, gross_unit = parse_weight(gross_weight, f"exhibit {exhibit_id} gross weight")
        net, net_unit = parse_weight(net_weight, f"exhibit {exhibit_id} net weight")
        exhibit = Exhibit(
            case_id=case_id, exhibit_id=_identifier(exhibit_id, "exhibit_id", "exhibit"),
            description=description, seal_numbers=_seals(seal_numbers, exhibit_id),
            packaging=packaging, gross_weight=gross, gross_weight_unit=gross_unit,
            net_weight=net, net_weight_unit=net_unit, item_count=item_count,
            received_from=received_from, received_by=received_by or self.actor,
            received_at=_not_future(
                parse_utc(received_at, f"exhibit {exhibit_id} received_at"),
                f"exhibit {exhibit_id} received_at") if received_at else utc_iso(utc_now()),
            condition=condition,
        )
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            if self._current(w.conn, "exhibit", case_id, exhibit_id) is not None:
                raise CustodyError(f"exhibit {exhibit_id!r} in case {case_id}: already recorded")
            w.put("exhibit.receive", exhibit)
        return exhibit

    def register_exhibits(self, case_id: str, exhibits: Mapping[str, str], *,
                          reason: str) -> list[Exhibit]:
        """Register exhibits known only by their identifier (from a run sequence).

        ``exhibits`` maps each exhibit identifier to the text recorded as its description,
        which should say where the identifier came from and that the item as received is
        not described yet. Nothing of the receipt is invented: seals, packaging, weights,
        from whom, by whom and when stay empty until a correction (``correct``) fills
        them. Exhibits the case already holds are left as they are. One transaction,
        one ``exhibit.register`` entry per new exhibit, carrying ``reason``; returns the
        new exhibits.
        """
        if not reason or not reason.strip():
            raise CustodyError(f"case {case_id}: registering exhibits needs a reason")
        new = []
        for exhibit_id, description in exhibits.items():
            if not description or not description.strip():
                raise CustodyError(f"exhibit {exhibit_id!r}: a description is required")
            new.append(Exhibit(case_id=case_id,
                               exhibit_id=_identifier(exhibit_id, "exhibit_id", "exhibit"),
                               description=description))
        out = []
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            for exhibit in new:
                if self._current(w.conn, "exhibit", case_id, exhibit.exhibit_id) is None:
                    w.put("exhibit.register", exhibit, reason=reason)
                    out.append(exhibit)
        return out

    def transfer_exhibit(
        self, case_id: str, exhibit_id: str, *, from_party: str, to_party: str,
        transferred_at: str | None = None, purpose: str | None = None,
        seal_intact: bool | None = None, seal_numbers: Sequence[str] = (),
        notes: str | None = None,
    ) -> CustodyTransfer:
        """Record a physical hand-over of an exhibit.

        The giver must be the exhibit's current holder (the last transfer's receiver, or
        who received it into the laboratory), and the time must not precede the last
        hand-over: continuity and sequence are checked when written (21 CFR 11.10(f)).
        """
        at = _not_future(parse_utc(transferred_at, "transferred_at"),
                         f"exhibit {exhibit_id} transferred_at") if transferred_at else utc_iso(
            utc_now())
        for value, what in ((from_party, "from"), (to_party, "to")):
            if not value or not value.strip():
                raise CustodyError(f"exhibit {exhibit_id!r}: the transfer needs a {what} party")
        with self._writing() as w:
            exhibit, _ = self._require(w.conn, "exhibit", case_id, exhibit_id)
            holder, since = self._holder(w.conn, exhibit)
            if holder is not None and holder != from_party:
                raise CustodyError(f"exhibit {exhibit_id} in case {case_id}: held by "
                                   f"{holder!r}, so it cannot be handed over by {from_party!r}")
            if since is not None and at < since:
                raise CustodyError(f"exhibit {exhibit_id} in case {case_id}: transfer at {at} "
                                   f"precedes the last hand-over or receipt ({since})")
            transfer = CustodyTransfer(
                case_id=case_id, transfer_id=w.next_id(CustodyTransfer, case_id),
                exhibit_id=exhibit_id, from_party=from_party, to_party=to_party,
                transferred_at=at, purpose=purpose, seal_intact=seal_intact,
                seal_numbers=_seals(seal_numbers, exhibit_id), notes=notes,
            )
            w.put("custody_transfer.record", transfer)
        return transfer

    def _holder(self, conn: sa.Connection, exhibit: Exhibit) -> tuple[str | None, str | None]:
        last = conn.execute(_latest_query(
            "custody_transfer", exhibit.case_id, {"exhibit_id": exhibit.exhibit_id},
            last_by=("transferred_at", "entry_seq"))).first()
        if last is not None:
            transfer = json.loads(last.content)["after"]
            return transfer["to_party"], transfer["transferred_at"]
        return exhibit.received_by, exhibit.received_at
