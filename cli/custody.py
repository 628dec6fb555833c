"""``gcms store``, ``user``, ``case``, ``exhibit``, ``run``, ``custody``, ``key``: custody.

Every command takes ``--store`` (a folder for SQLite, or a ``postgresql://`` URL; default
``$GCMS_STORE`` or the platform data folder) and records who acts from ``--actor``
(default ``$GCMS_ACTOR`` or the login name): the name of a user enrolled in the store
(``gcms user``), never free text. Review, correction, user and key management prove the
actor with their key (``--key``; passphrase from ``$GCMS_KEY_PASSPHRASE`` or prompted).
Exit codes: 0 done, 1 verification failed, 2 bad input or refused action (one line on
stderr saying why, naming the rule).

``gcms batch`` gains ``--store``, ``--case`` and ``--analyst`` (:data:`BATCH_OPTIONS`,
:func:`batch_steps`): the batch's runs, analysis and results are recorded in the case
(:mod:`gcms.custody.batch`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, emit_json, error_line
from gcms_cli._common import guarded as _guarded

#: Environment variable read for a key's passphrase (automation); prompted otherwise.
PASSPHRASE_ENV = "GCMS_KEY_PASSPHRASE"


def _store_options(function: Callable) -> Callable:
    function = click.option(
        "--actor", envvar="GCMS_ACTOR", default=None,
        help="Your user name in the store (an enrolled user), recorded in every entry "
             "[env GCMS_ACTOR; default: login name].",
    )(function)
    return click.option(
        "--store", "store_location", envvar="GCMS_STORE", default=None, metavar="DIR|URL",
        help="Store folder (SQLite) or postgresql:// URL [env GCMS_STORE; default: the "
             "platform data folder].",
    )(function)


def _json_option(function: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(function)


def _open(store_location: str | None, actor: str | None, *, create: bool = False):
    from gcms.custody import CaseStore

    return CaseStore(store_location, actor=actor, create=create)


def _rows(rows: list[tuple[str, Any]], indent: str = "  ") -> str:
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"{indent}{label:<{width}}  {value}" for label, value in rows
                     if value not in (None, "", [], ()))


def _weight(value: str | None, unit: str | None) -> str | None:
    return f"{value} {unit}" if value is not None else None


def _passphrase(env_name: str, *, confirm: bool, prompt: str) -> str:
    from gcms.config import secret

    value = secret(env_name)
    if value is not None:
        return value
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)


def _key_option(required: bool = True, help: str = "Your private key file (proves that "
                "you act): the entry is signed with it.") -> Callable:
    def decorate(function: Callable) -> Callable:
        function = click.option(
            "--passphrase-env", default=PASSPHRASE_ENV, show_default=True,
            help="Environment variable holding the passphrase; prompted when unset.",
        )(function)
        return click.option("--key", "key_file", required=required,
                            type=click.Path(dir_okay=False), help=help)(function)
    return decorate


def _unlock(key_file: str | None, passphrase_env: str):
    if key_file is None:
        return None
    from gcms.custody import load_signing_key

    return load_signing_key(key_file, _passphrase(passphrase_env, confirm=False,
                                                  prompt=f"Passphrase for {key_file}"))


@contextlib.contextmanager
def _signed_store(key_file: str | None, passphrase_env: str, store_location: str | None,
                  actor: str | None):
    """Unlock the key (prompting for its passphrase) before the store is opened; yield both."""
    signer = _unlock(key_file, passphrase_env)
    with _open(store_location, actor) as store:
        yield store, signer


# -- gcms store, gcms user -----------------------------------------------------------------


@click.group("store")
def store_group() -> None:
    """Create a case store with its first admin."""


@store_group.command("init")
@click.option("--admin", required=True, help="User name of the store's first admin.")
@click.option("--name", "printed_name", help="The admin's printed name.")
@click.option("--role", "roles", multiple=True,
              type=click.Choice(["analyst", "reviewer", "qa", "admin"]),
              help="Further roles of the first admin (admin always).")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Store folder or postgresql:// URL [env GCMS_STORE].")
@_json_option
@_guarded
def store_init(admin, printed_name, roles, store_location, as_json) -> None:
    """Create a store; ADMIN, its first admin, is stated in the audit log (entry #2).

    A store made implicitly (by a first 'gcms batch --store' or 'gcms case new') makes
    the acting user its first admin, with the analyst role too.
    """
    from gcms.custody.store import init_store

    with init_store(store_location, admin=admin, printed_name=printed_name,
                    roles=("admin", *roles)) as store:
        user, location, head = store.user(admin), store.location, store.head()
    if as_json:
        emit_json({"store": location, "admin": user.to_dict(),
                   "head": {"seq": head[0], "entry_sha256": head[1]}})
    else:
        click.echo(f"store {location} created; first admin {admin} "
                   f"({', '.join(user.roles)})")


@store_group.command("adopt")
@click.option("--admin", required=True, help="User name of the store's first admin.")
@click.option("--name", "printed_name", help="The admin's printed name.")
@click.option("--role", "roles", multiple=True,
              type=click.Choice(["analyst", "reviewer", "qa", "admin"]),
              help="Further roles of the first admin (admin always).")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Store folder or postgresql:// URL [env GCMS_STORE].")
@_guarded
def store_adopt(admin, printed_name, roles, store_location) -> None:
    """Give a store made before users were enrolled its first admin, ADMIN.

    Refused when the store has users. Earlier entries stay as they are; from this entry
    on, every change names an enrolled user.
    """
    from gcms.custody.store import adopt_store

    with adopt_store(store_location, admin=admin, printed_name=printed_name,
                     roles=("admin", *roles)) as store:
        location = store.location
    click.echo(f"store {location}: {admin} is its first admin")


@click.group()
def user() -> None:
    """Users enrolled in the store and their roles (analyst, reviewer, qa, admin)."""


_roles_option = click.option(
    "--role", "roles", multiple=True, required=True,
    type=click.Choice(["analyst", "reviewer", "qa", "admin"]),
    help="A role (repeat for several).")


@user.command("add")
@click.argument("user_id")
@_roles_option
@click.option("--name", "printed_name", required=True,
              help="Printed name shown with the user's signatures, e.g. 'Dr A. Smith'.")
@click.option("--reason", help="Why (kept in the log).")
@_key_option(help="Your (an admin's) private key: the entry is signed with it.")
@_store_options
@_json_option
@_guarded
def user_add(user_id, roles, printed_name, reason, key_file, passphrase_env, store_location,
             actor, as_json) -> None:
    """Enrol USER_ID with roles (admins only)."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        record = store.add_user(user_id, roles=roles, printed_name=printed_name, key=signer,
                                reason=reason)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"user {record.user_id} ({record.printed_name}) enrolled: "
                   f"{', '.join(record.roles)}")


@user.command("list")
@_store_options
@_json_option
@_guarded
def user_list(store_location, actor, as_json) -> None:
    """Enrolled users: name, status, roles, printed name."""
    with _open(store_location, actor) as store:
        users = store.users()
    if as_json:
        emit_json([u.to_dict() for u in users])
    else:
        for u in users:
            click.echo(f"{u.user_id:<16} {u.status:<8} {','.join(u.roles):<24} "
                       f"{u.printed_name or ''}")


@user.command("roles")
@click.argument("user_id")
@_roles_option
@click.option("--reason", required=True, help="Why (kept in the log).")
@_key_option(help="Your (an admin's) private key: the entry is signed with it.")
@_store_options
@_json_option
@_guarded
def user_roles(user_id, roles, reason, key_file, passphrase_env, store_location, actor,
               as_json) -> None:
    """Set USER_ID's roles (admins only); the earlier ones stay in the log."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        record = store.set_roles(user_id, roles, reason=reason, key=signer)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"user {user_id}: {', '.join(record.roles)}")


@user.command("name")
@click.argument("user_id")
@click.option("--name", "printed_name", required=True,
              help="Printed name shown with the user's signatures, e.g. 'Dr A. Smith'.")
@click.option("--reason", required=True, help="Why (kept in the log).")
@_key_option(help="Your (an admin's) private key: the entry is signed with it.")
@_store_options
@_json_option
@_guarded
def user_name(user_id, printed_name, reason, key_file, passphrase_env, store_location, actor,
              as_json) -> None:
    """Set USER_ID's printed name (admins only); keys registered before keep theirs."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        record = store.set_printed_name(user_id, printed_name, reason=reason, key=signer)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"user {user_id}: printed name {record.printed_name}")


@user.command("disable")
@click.argument("user_id")
@click.option("--reason", required=True, help="Why (kept in the log).")
@_key_option(help="Your (an admin's) private key: the entry is signed with it.")
@_store_options
@_guarded
def user_disable(user_id, reason, key_file, passphrase_env, store_location, actor) -> None:
    """Disable USER_ID (admins only): they can change nothing from now on."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        store.disable_user(user_id, reason=reason, key=signer)
    click.echo(f"user {user_id} disabled")


@user.command("password")
@click.argument("user_id")
@click.option("--password-env", default="GCMS_PASSWORD", show_default=True,
              help="Environment variable holding the new password; prompted when unset.")
@click.option("--reason", help="Why (kept in the log; says who set it when omitted).")
@_key_option(help="Your private key (USER_ID's own, or an admin's for a reset).")
@_store_options
@_guarded
def user_password(user_id, password_env, reason, key_file, passphrase_env, store_location,
                  actor) -> None:
    """Set USER_ID's sign-in password for 'gcms review' (their own, or an admin's reset).

    Only an Argon2id hash is kept; the chain records its SHA-256 and who set it.
    """
    from gcms.custody.credentials import set_password

    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        password = _passphrase(password_env, confirm=True,
                               prompt=f"New sign-in password for {user_id}")
        record = set_password(store, user_id, password, key=signer, reason=reason)
    click.echo(f"user {user_id}: sign-in password set by {record.set_by} "
               f"(version {record.version})")


# -- gcms case ---------------------------------------------------------------------------


@click.group()
def case() -> None:
    """Open, show and list cases."""


@case.command("new")
@click.argument("case_id")
@click.option("--title", help="Short description of the case.")
@click.option("--agency", "submitting_agency", help="Submitting agency.")
@click.option("--agency-ref", "agency_reference", help="The agency's own reference.")
@click.option("--notes", help="Free-text notes.")
@_store_options
@_json_option
@_guarded
def case_new(case_id, title, submitting_agency, agency_reference, notes, store_location,
             actor, as_json) -> None:
    """Open case CASE_ID (makes the store if it does not exist)."""
    with _open(store_location, actor, create=True) as store:
        record = store.open_case(case_id, title=title, submitting_agency=submitting_agency,
                                 agency_reference=agency_reference, notes=notes)
        location = store.location
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"case {record.case_id} opened in {location}")


def _case_text(file: dict[str, Any]) -> str:
    case = file["case"]
    lines = [f"case {case['case_id']}" + (f": {case['title']}" if case["title"] else "")]
    lines.append(_rows([("agency", case["submitting_agency"]),
                        ("reference", case["agency_reference"]), ("notes", case["notes"])]))
    for exhibit in file["exhibits"]:
        lines.append(_exhibit_text(exhibit))
    runs = file["runs"]
    if runs:
        lines.append("runs")
        for run in runs:
            where = f" exhibit {run['exhibit_id']}" if run["exhibit_id"] else ""
            files = f", {len(run['files'])} files" if run["is_directory"] else ""
            lines.append(f"  {run['run_id']:<5} {run['kind']:<8} {run['path']}{where}\n"
                         f"        sha256 {run['sha256']} ({run['size_bytes']} bytes{files})")
    for result in file["results"]:
        about = ", ".join(f"{k} {result[k]}" for k in ("exhibit_id", "run_id", "analysis_id")
                          if result[k])
        lines.append(f"result {result['result_id']} v{result['version']} ({about})"
                     + (f": {result['summary']}" if result["summary"] else ""))
        for sig in file["signatures"]:
            if sig["result_id"] == result["result_id"]:
                stale = "" if sig["result_version"] == result["version"] else (
                    f" [on superseded v{sig['result_version']}]")
                lines.append(f"  {sig['meaning']:<9} {sig['printed_name']} ({sig['signer']}) "
                             f"{sig['signed_at']}{stale}")
        for review in file["reviews"]:
            if review["result_id"] == result["result_id"]:
                lines.append(f"  review    {review['outcome']} by {review['reviewer']} "
                             f"(v{review['result_version']})"
                             + (f": {review['comments']}" if review["comments"] else ""))
    for name, changes in file["corrections"].items():
        for change in changes:
            lines.append(f"correction of {name} (#{change['seq']}, {change['at']}, "
                         f"{change['actor']}): {change['reason']}")
    head = file["chain_head"]
    lines.append(f"chain head #{head['seq']} {head['entry_sha256']}")
    return "\n".join(line for line in lines if line)


def _exhibit_text(exhibit: dict[str, Any]) -> str:
    lines = [f"exhibit {exhibit['exhibit_id']}: {exhibit['description']}"]
    lines.append(_rows([
        ("seals", ", ".join(exhibit["seal_numbers"])),
        ("packaging", exhibit["packaging"]),
        ("gross weight", _weight(exhibit["gross_weight"], exhibit["gross_weight_unit"])),
        ("net weight", _weight(exhibit["net_weight"], exhibit["net_weight_unit"])),
        ("items", exhibit["item_count"]),
        ("received", " ".join(filter(None, [
            exhibit["received_at"],
            f"from {exhibit['received_from']}" if exhibit["received_from"] else None,
            f"by {exhibit['received_by']}" if exhibit["received_by"] else None]))),
        ("condition", exhibit["condition"]),
        ("held by", exhibit.get("current_holder")),
    ]))
    for t in exhibit.get("custody", []):
        seal = {True: "seal intact", False: "SEAL NOT INTACT", None: "seal not stated"}[
            t["seal_intact"]]
        lines.append(f"    {t['transfer_id']:<4} {t['transferred_at']}  {t['from_party']} -> "
                     f"{t['to_party']}  {t['purpose'] or ''}  ({seal})")
    return "\n".join(line for line in lines if line)


@case.command("correct")
@click.argument("case_id")
@click.option("--reason", required=True, help="Why the record is corrected (kept).")
@click.option("--title", help="Short description of the case.")
@click.option("--agency", "submitting_agency", help="Submitting agency (the customer).")
@click.option("--agency-ref", "agency_reference", help="The agency's own reference.")
@click.option("--notes", help="Free-text notes.")
@_key_option()
@_store_options
@_json_option
@_guarded
def case_correct(case_id, reason, key_file, passphrase_env, store_location, actor, as_json,
                 **changes) -> None:
    """Amend case facts (e.g. the submitting agency) as a new version; the old one is kept.

    A report made afterwards shows the current version; the log shows every one.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        error_line("nothing to correct: give at least one field")
        sys.exit(EXIT_INPUT)
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        record = store.correct("case", case_id, case_id, reason=reason, changes=changes,
                               key=signer)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"case {case_id} corrected (version {record.version})")


@case.command("show")
@click.argument("case_id")
@_store_options
@_json_option
@_guarded
def case_show(case_id, store_location, actor, as_json) -> None:
    """Everything recorded on CASE_ID: exhibits and custody, runs, results, signatures."""
    with _open(store_location, actor) as store:
        file = store.case_file(case_id)
    if as_json:
        emit_json(file)
    else:
        click.echo(_case_text(file))


@case.command("list")
@_store_options
@_json_option
@_guarded
def case_list(store_location, actor, as_json) -> None:
    """The cases in the store."""
    with _open(store_location, actor) as store:
        cases = store.cases()
    if as_json:
        emit_json([c.to_dict() for c in cases])
    else:
        for c in cases:
            click.echo(f"{c.case_id}\t{c.title or ''}")


# -- gcms exhibit ---------------------------------------------------------------------------


@click.group()
def exhibit() -> None:
    """Record exhibits as received, their custody transfers and corrections."""


_case_option = click.option("--case", "case_id", required=True, help="Case identifier.")


@exhibit.command("add")
@_case_option
@click.argument("exhibit_id")
@click.option("--description", required=True, help="What the item is, as received.")
@click.option("--seal", "seals", multiple=True, help="Seal number (repeat for several).")
@click.option("--packaging", help="Packaging as received.")
@click.option("--gross-weight", help="Weight with packaging, e.g. '14.82 g'.")
@click.option("--net-weight", help="Weight of the material, e.g. '12.50 g'.")
@click.option("--items", "item_count", type=click.IntRange(min=0), help="Number of items.")
@click.option("--received-from", help="Who delivered it.")
@click.option("--received-by", help="Who received it [default: the actor].")
@click.option("--received-at", help="When (ISO 8601; local time without offset) [now].")
@click.option("--condition", help="Condition on receipt (seals, damage).")
@_store_options
@_json_option
@_guarded
def exhibit_add(case_id, exhibit_id, description, seals, packaging, gross_weight, net_weight,
                item_count, received_from, received_by, received_at, condition,
                store_location, actor, as_json) -> None:
    """Record exhibit EXHIBIT_ID of a case as received."""
    with _open(store_location, actor) as store:
        record = store.receive_exhibit(
            case_id, exhibit_id, description=description, seal_numbers=seals,
            packaging=packaging, gross_weight=gross_weight, net_weight=net_weight,
            item_count=item_count, received_from=received_from, received_by=received_by,
            received_at=received_at, condition=condition)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"exhibit {record.exhibit_id} of case {case_id} received "
                   f"{record.received_at} by {record.received_by}")


@exhibit.command("transfer")
@_case_option
@click.argument("exhibit_id")
@click.option("--from", "from_party", required=True, help="Who hands it over.")
@click.option("--to", "to_party", required=True, help="Who receives it.")
@click.option("--purpose", help="Why (analysis, storage, return to agency...).")
@click.option("--at", "transferred_at", help="When (ISO 8601) [now].")
@click.option("--seal-intact/--seal-broken", default=None,
              help="State of the seal at hand-over.")
@click.option("--seal", "seals", multiple=True, help="Seal number after the hand-over.")
@click.option("--notes", help="Free-text notes.")
@_store_options
@_json_option
@_guarded
def exhibit_transfer(case_id, exhibit_id, from_party, to_party, purpose, transferred_at,
                     seal_intact, seals, notes, store_location, actor, as_json) -> None:
    """Record a physical hand-over of EXHIBIT_ID."""
    with _open(store_location, actor) as store:
        record = store.transfer_exhibit(
            case_id, exhibit_id, from_party=from_party, to_party=to_party,
            transferred_at=transferred_at, purpose=purpose, seal_intact=seal_intact,
            seal_numbers=seals, notes=notes)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"{record.transfer_id}: exhibit {exhibit_id} {from_party} -> {to_party} "
                   f"at {record.transferred_at}")


@exhibit.command("show")
@_case_option
@click.argument("exhibit_id")
@_store_options
@_json_option
@_guarded
def exhibit_show(case_id, exhibit_id, store_location, actor, as_json) -> None:
    """An exhibit as received, its custody transfers, runs and results."""
    with _open(store_location, actor) as store:
        file = store.case_file(case_id)
    found = [e for e in file["exhibits"] if e["exhibit_id"] == exhibit_id]
    if not found:
        error_line(f"exhibit {exhibit_id!r} in case {case_id}: not in the store")
        sys.exit(EXIT_INPUT)
    runs = [r for r in file["runs"] if r["exhibit_id"] == exhibit_id]
    results = [r for r in file["results"] if r["exhibit_id"] == exhibit_id]
    if as_json:
        emit_json({"exhibit": found[0], "runs": runs, "results": results})
        return
    click.echo(_exhibit_text(found[0]))
    for run in runs:
        click.echo(f"  run {run['run_id']} {run['path']}\n      sha256 {run['sha256']}")
    for result in results:
        click.echo(f"  result {result['result_id']} v{result['version']}"
                   + (f": {result['summary']}" if result["summary"] else ""))


@exhibit.command("correct")
@_case_option
@click.argument("exhibit_id")
@click.option("--reason", required=True, help="Why the record is corrected (kept).")
@click.option("--description")
@click.option("--packaging")
@click.option("--gross-weight")
@click.option("--net-weight")
@click.option("--items", "item_count", type=click.IntRange(min=0))
@click.option("--received-from")
@click.option("--received-by")
@click.option("--received-at")
@click.option("--condition")
@click.option("--seal", "seal_numbers", multiple=True,
              help="Seal number (repeat for several); replaces the recorded ones.")
@_key_option()
@_store_options
@_json_option
@_guarded
def exhibit_correct(case_id, exhibit_id, reason, key_file, passphrase_env, store_location,
                    actor, as_json, **changes) -> None:
    """Correct an exhibit record; the earlier version stays in the log.

    Also how the receipt of an exhibit registered from a batch sequence is recorded.
    """
    changes = {k: v for k, v in changes.items() if v is not None and v != ()}
    if not changes:
        error_line("nothing to correct: give at least one field")
        sys.exit(EXIT_INPUT)
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        record = store.correct("exhibit", case_id, exhibit_id, reason=reason, changes=changes,
                               key=signer)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"exhibit {exhibit_id} of case {case_id} corrected (version "
                   f"{record.version})")


# -- gcms run ---------------------------------------------------------------------------------


@click.group("run")
def run_group() -> None:
    """Attach acquisitions to a case as evidence (hashed read-only)."""


@run_group.command("attach")
@_case_option
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--exhibit", "exhibit_id", help="Exhibit the run was acquired from.")
@click.option("--kind", type=click.Choice(["sample", "blank", "ladder", "standard", "qc"]),
              default="sample", show_default=True, help="What the run is in the sequence.")
@click.option("--instrument", help="Instrument [default: from the file].")
@click.option("--acquired-at", help="Acquisition time, ISO 8601 [default: from the file].")
@click.option("--sample-name", help="Sample name [default: from the file].")
@click.option("--read-metadata/--no-read-metadata", default=True, show_default=True,
              help="Read the run with gcms to fill instrument, time, sample and format.")
@_store_options
@_json_option
@_guarded
def run_attach(case_id, paths, exhibit_id, kind, instrument, acquired_at, sample_name,
               read_metadata, store_location, actor, as_json) -> None:
    """Hash each of PATHS (file or .D folder) and attach it to a case.

    A file gcms cannot read is still attached (with the metadata given); one that cannot
    be hashed or is already attached is reported and skipped (exit 2).
    """
    from gcms.custody.store import run_metadata
    from gcms.errors import GcmsError

    attached, failed = [], False
    store = _open(store_location, actor)
    with store:
        for path in paths:
            meta: dict[str, Any] = {}
            if read_metadata:
                try:
                    meta = run_metadata(path)
                except GcmsError as error:
                    click.echo(f"gcms: note: {error} (attached without file metadata)",
                               err=True)
            given = {"instrument": instrument, "acquired_at": acquired_at,
                     "sample_name": sample_name}
            meta.update({k: v for k, v in given.items() if v is not None})
            try:
                attached.append(store.attach_run(case_id, path, exhibit_id=exhibit_id,
                                                 kind=kind, **meta))
            except GcmsError as error:
                error_line(str(error))
                failed = True
    if as_json:
        emit_json([r.to_dict() for r in attached])
    else:
        for r in attached:
            files = f", {len(r.files)} files" if r.is_directory else ""
            click.echo(f"{r.run_id}  {r.path}\n      sha256 {r.sha256} ({r.size_bytes} bytes"
                       f"{files})")
    sys.exit(EXIT_INPUT if failed else EXIT_OK)


# -- gcms custody ---------------------------------------------------------------------------


@click.group()
def custody() -> None:
    """The audit log: show it, verify it, export a case, sign and review results."""


@custody.command("log")
@click.option("--case", "case_id", help="Only this case's entries (and the store's own).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N entries.")
@_store_options
@_json_option
@_guarded
def custody_log(case_id, limit, store_location, actor, as_json) -> None:
    """The audit log: who did what, when (UTC), to which record."""
    with _open(store_location, actor) as store:
        entries = store.log(case_id=case_id, limit=limit)
    if as_json:
        emit_json([e.to_dict() for e in entries])
        return
    for e in entries:
        where = f" case {e.case_id}" if e.case_id else ""
        why = f"  reason: {e.reason}" if e.reason else ""
        proof = (f"  [signed with key {e.proof['key_fingerprint'][:16]}...]"
                 if e.proof else "")
        click.echo(f"#{e.seq:<6} {e.at}  {e.actor:<12} {e.action:<24} "
                   f"{e.object_id}{where}{_report_facts(e)}{_review_facts(e)}{why}{proof}")


def _one_line(text: str, limit: int | None = None) -> str:
    """``text`` quoted on one line: invisible and control characters escaped (``\\n``,
    ``\\x1b``, ``\\u202e``), cut to ``limit`` characters with ``...``."""
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                    for c in text)
    if limit is not None and len(shown) > limit:
        shown = shown[:limit].rstrip() + "..."
    return f"'{shown}'"


def _review_facts(entry) -> str:
    """What a review entry recorded: result, version, outcome, reviewer, comments."""
    if entry.action != "review.record" or not entry.after:
        return ""
    from gcms.custody.decisions import REVIEW_OUTCOMES

    after = entry.after
    outcome = str(after.get("outcome"))
    called = {v: k for k, v in REVIEW_OUTCOMES.items()}.get(outcome)  # the screen's word
    comments = after.get("comments")
    return (f"  result {after.get('result_id')} v{after.get('result_version')} {outcome}"
            + (f" ({called})" if called else "") + f" by {after.get('reviewer')}"
            + (f", comments: {_one_line(str(comments), 80)}" if comments else ""))


def _report_facts(entry) -> str:
    """What a report entry recorded: the file's SHA-256, the analysis, the status."""
    if not entry.action.startswith("report.") or not entry.after:
        return ""
    after = entry.after
    facts = [f"{after.get('file_format') or 'file'} sha256 {after['file_sha256']}"
             if after.get("file_sha256") else None,
             f"analysis {after['analysis_id']}" if after.get("analysis_id") else None,
             after.get("status")]
    return "  " + ", ".join(f for f in facts if f)


def _report_text(report) -> str:
    scope = f" case {report.case_id}" if report.case_id else ""
    lines = [f"{report.source}{scope}", _rows([
        ("chain", f"{report.entries} entries, head #{report.head_seq} {report.head_sha256}"),
        ("records", f"{report.records} rows compared with the log" if report.records else None),
        ("evidence", f"{report.files} files re-hashed" if report.files else None),
        ("signatures", f"{report.signatures} verified"),
        ("proofs", f"{report.proofs} entries proven by their actor's key"
         if report.proofs else None),
        ("checkpoints", f"{report.checkpoints} signed by an admin"
         if report.checkpoints else None),
        ("anchors", "; ".join(report.anchors) or None),
        ("trust", "admin entries checked against the pinned admin keys"
         if report.trust_pinned else "not checked (no --trust file)"),
    ])]
    if report.ok:
        lines.append("OK: every entry, record, signature and file verifies")
    else:
        lines.append(f"FAILED: {len(report.findings)} finding(s); first: {report.first}")
        lines += [f"  {f}" for f in report.findings]
    return "\n".join(lines)


@custody.command("verify")
@click.option("--case", "case_id", help="Check one case (the whole chain is still walked).")
@click.option("--bundle", type=click.Path(dir_okay=False),
              help="Verify an exported bundle instead of the store (no database needed).")
@click.option("--rehash/--no-rehash", default=None,
              help="Re-hash evidence files [default: yes for a store, no for a bundle].")
@click.option("--expect-head", "heads", multiple=True, metavar="SEQ:SHA256",
              help="A chain head taken earlier (a report, bundle or checkpoint states it): "
                   "the store must still hold that entry with that hash. Repeatable.")
@click.option("--head-file", "head_files", multiple=True, type=click.Path(dir_okay=False),
              help="A bundle, checkpoint file or JSON with chain_head, whose head(s) the "
                   "store must still hold. Repeatable.")
@click.option("--trust", "trust_file", type=click.Path(dir_okay=False),
              help="The lab's pinned admin key fingerprints (TOML [trust] admin_keys, e.g. "
                   "the lab profile, or one per line): admin entries must be proven by them.")
@click.option("--libraries", "library_file", type=click.Path(dir_okay=False),
              help="A method or lab profile (TOML) whose [library] accepted_sha256 lists the "
                   "library identities it accepts: every analysis must have used one.")
@click.option("--qa-history", type=click.Path(file_okay=False),
              help="QA history folder: every QA result recorded in the chain must still be "
                   "in it, unchanged.")
@_store_options
@_json_option
@_guarded
def custody_verify(case_id, bundle, rehash, heads, head_files, trust_file, library_file,
                   qa_history, store_location, actor, as_json) -> None:
    """Re-hash evidence, walk the chain and check every signature, proof and rule.

    Exit 0 when everything holds, 1 naming the first file, entry, record, signature,
    anchor or rule that does not.
    """
    from gcms.custody.verify import load_anchors, load_library_pins, load_trust, parse_head

    expect = [parse_head(h) for h in heads]
    for path in head_files:
        expect += load_anchors(path)
    trust = load_trust(trust_file) if trust_file else None
    libraries = load_library_pins(library_file) if library_file else None
    if library_file and libraries is None:
        error_line(f"{library_file}: no [library] accepted_sha256 to check against")
        sys.exit(EXIT_INPUT)
    if bundle is not None:
        from gcms.custody import verify_bundle

        report = verify_bundle(bundle, rehash=bool(rehash), expect=expect, trust=trust)
        if case_id is not None and case_id != report.case_id:
            error_line(f"{bundle}: holds case {report.case_id}, not {case_id}")
            sys.exit(EXIT_INPUT)
    else:
        with _open(store_location, actor) as store:
            report = store.verify(case_id=case_id, rehash=rehash is not False,
                                  expect=expect, trust=trust, qa_history=qa_history,
                                  libraries=libraries)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(_report_text(report))
    if not report.ok:
        error_line(f"custody does not verify: {report.first}")
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)


@custody.command("head")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Also write it to this file (JSON; never overwritten), for --head-file.")
@_store_options
@_guarded
def custody_head(output, store_location, actor) -> None:
    """Print the chain head as SEQ:SHA256, to keep outside the store."""
    with _open(store_location, actor) as store:
        seq, digest = store.head()
        location = store.location
    if output:
        _write_new(output, {"store": location, "chain_head": {"seq": seq,
                                                              "entry_sha256": digest}})
    click.echo(f"{seq}:{digest}")


def _write_new(output: str, document: Any) -> None:
    import json

    try:
        with open(output, "x", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=1)
            handle.write("\n")
    except OSError as error:
        error_line(f"{output}: cannot write ({error.strerror}; an existing file is never "
                   "overwritten)")
        sys.exit(EXIT_INPUT)


@custody.command("checkpoint")
@_key_option(help="Your (an admin's) private key: the checkpoint is signed with it.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the signed checkpoint to this file, to keep outside the store "
                   "('custody verify --head-file').")
@_store_options
@_json_option
@_guarded
def custody_checkpoint(key_file, passphrase_env, output, store_location, actor,
                       as_json) -> None:
    """Sign the chain head with an admin key (an audit entry); keep the file elsewhere."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        checkpoint = store.checkpoint(signer)
    if output:
        _write_new(output, checkpoint)
    if as_json:
        emit_json(checkpoint)
    else:
        head = checkpoint["head"]
        click.echo(f"checkpoint #{head['seq']} {head['entry_sha256']} covers "
                   f"#{checkpoint['covers']['seq']}, signed by {checkpoint['signed_by']}")


@custody.command("trust")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Trust file to write (TOML; never overwritten).")
@_store_options
@_guarded
def custody_trust(output, store_location, actor) -> None:
    """Write the active admin keys' fingerprints as a trust file for the lab to keep.

    Check it against the keys the admins hold before relying on it: it pins what the
    store says now. 'custody verify --trust FILE' then catches keys swapped later.
    """
    with _open(store_location, actor) as store:
        fingerprints = store.admin_keys()
    if not fingerprints:
        error_line("the store has no active key of an admin to pin")
        sys.exit(EXIT_INPUT)
    lines = ["# gcms: admin key fingerprints pinned outside the case store", "[trust]",
             "admin_keys = ["] + [f'    "{fp}",  # {user}' for fp, user in fingerprints] + ["]"]
    try:
        with open(output, "x", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    except OSError as error:
        error_line(f"{output}: cannot write ({error.strerror}; never overwritten)")
        sys.exit(EXIT_INPUT)
    click.echo(f"{output}: {len(fingerprints)} admin key(s) pinned")


@custody.command("export")
@_case_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Bundle file to write (JSON).")
@_store_options
@_guarded
def custody_export(case_id, output, store_location, actor) -> None:
    """Write a self-contained bundle of one case ('gcms custody verify --bundle' checks it)."""
    import json

    with _open(store_location, actor) as store:
        bundle = store.export_bundle(case_id)
    try:
        with open(output, "x", encoding="utf-8") as handle:
            json.dump(bundle, handle, ensure_ascii=False, indent=1)
            handle.write("\n")
    except OSError as error:
        error_line(f"{output}: cannot write the bundle ({error.strerror}; an existing file "
                   "is never overwritten)")
        sys.exit(EXIT_INPUT)
    click.echo(f"{output}: case {case_id}, {len(bundle['links'])} entries, head "
               f"#{bundle['head']['seq']} {bundle['head']['entry_sha256']}")


@custody.command("record-result")
@_case_option
@click.argument("result_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--exhibit", "exhibit_id", help="Exhibit the result is about.")
@click.option("--run", "run_id", help="Run the result comes from (e.g. R3).")
@click.option("--analysis", "analysis_id", help="Analysis that produced it (e.g. A1).")
@click.option("--summary", help="One line a reader sees first.")
@_store_options
@_json_option
@_guarded
def custody_record_result(case_id, result_file, exhibit_id, run_id, analysis_id, summary,
                          store_location, actor, as_json) -> None:
    """Record RESULT_FILE (one JSON object) as a result of the case, kept whole."""
    import json

    from gcms.errors import CustodyError

    try:
        with open(result_file, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CustodyError(f"{result_file}: not a JSON file ({error})") from error
    if not isinstance(data, dict):
        raise CustodyError(f"{result_file}: a result must be a JSON object")
    with _open(store_location, actor) as store:
        record = store.record_result(case_id, data, analysis_id=analysis_id, run_id=run_id,
                                     exhibit_id=exhibit_id, summary=summary)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"result {record.result_id} recorded in case {case_id}")


@custody.command("sign")
@_case_option
@click.option("--result", "result_id", required=True, help="Result to sign (e.g. RS1).")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="Your private key file (from 'gcms key new').")
@click.option("--meaning", required=True, type=click.Choice(["authored", "reviewed",
                                                              "approved"]),
              help="What the signature means (21 CFR 11.50).")
@click.option("--passphrase-env", default=PASSPHRASE_ENV, show_default=True,
              help="Environment variable holding the passphrase; prompted when unset.")
@_store_options
@_json_option
@_guarded
def custody_sign(case_id, result_id, key_file, meaning, passphrase_env, store_location,
                 actor, as_json) -> None:
    """Sign a result's current version and the chain head with your key."""
    from gcms.custody import load_signing_key

    key = load_signing_key(key_file, _passphrase(passphrase_env, confirm=False,
                                                 prompt=f"Passphrase for {key_file}"))
    with _open(store_location, actor) as store:
        signature = store.sign_result(case_id, result_id, key, meaning=meaning)
    if as_json:
        emit_json(signature.to_dict())
    else:
        click.echo(f"{signature.signature_id}: result {result_id} v{signature.result_version} "
                   f"{meaning} by {signature.printed_name} at {signature.signed_at}")


@custody.command("review")
@_case_option
@click.option("--result", "result_id", required=True, help="Result reviewed (e.g. RS1).")
@click.option("--outcome", required=True, type=click.Choice(["agreed", "disagreed"]))
@click.option("--comments", help="What the reviewer checked or found.")
@_key_option()
@_store_options
@_json_option
@_guarded
def custody_review(case_id, result_id, outcome, comments, key_file, passphrase_env,
                   store_location, actor, as_json) -> None:
    """Record your technical review of a result (not your own), signed with your key."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        review = store.review_result(case_id, result_id, outcome=outcome, comments=comments,
                                     key=signer)
    if as_json:
        emit_json(review.to_dict())
    else:
        click.echo(f"{review.review_id}: result {result_id} v{review.result_version} "
                   f"{outcome} by {review.reviewer}")


# -- gcms key ----------------------------------------------------------------------------------


@click.group()
def key() -> None:
    """Analyst signing keys: make, register, list, revoke."""


@key.command("new")
@click.argument("user")
@click.option("--name", "printed_name",
              help="Printed name, e.g. 'Dr A. Analyst' [default and check: the user's, "
                   "from the store].")
@click.option("-o", "--output-dir", default=".", show_default=True,
              type=click.Path(file_okay=False), help="Folder for USER.key and USER.pub.")
@click.option("--register", is_flag=True,
              help="Also register the public key in the store (admins only).")
@click.option("--passphrase-env", default=PASSPHRASE_ENV, show_default=True,
              help="Environment variable holding the passphrase; prompted when unset.")
@click.option("--admin-key", type=click.Path(dir_okay=False),
              help="With --register: your (an admin's) key, which signs the registration "
                   "[default: an admin registering their own key signs with the new key].")
@_store_options
@_json_option
@_guarded
def key_new(user, printed_name, output_dir, register, passphrase_env, admin_key,
            store_location, actor, as_json) -> None:
    """Make an Ed25519 key pair for USER; the private key is encrypted with a passphrase."""
    from gcms.custody import new_key_pair

    if register:  # refuse before any file is written
        with _open(store_location, actor) as store:
            store.check_may_register(user, printed_name)
    passphrase = _passphrase(passphrase_env, confirm=True, prompt=f"New passphrase for {user}")
    key_path, pub_path, signing_key = new_key_pair(output_dir, user, passphrase)
    out = {"user": user, "printed_name": printed_name, "private_key": str(key_path),
           "public_key": str(pub_path), "fingerprint": signing_key.fingerprint,
           "registered": False}
    if register:
        with _signed_store(admin_key, passphrase_env, store_location, actor) as (store, signer):
            record = store.register_key(signing_key, user=user, printed_name=printed_name,
                                        key=signer)
        out["registered"], out["printed_name"] = True, record.printed_name
    if as_json:
        emit_json(out)
    else:
        click.echo(f"{key_path} (private, keep it to yourself)\n{pub_path}\n"
                   f"fingerprint {signing_key.fingerprint}"
                   + ("\nregistered in the store" if register else ""))


@key.command("register")
@click.argument("user")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", "printed_name",
              help="Printed name of the signer [default and check: the user's, from the "
                   "store].")
@_key_option(help="Your (an admin's) private key: the registration is signed with it.")
@_store_options
@_json_option
@_guarded
def key_register(user, public_key, printed_name, key_file, passphrase_env, store_location,
                 actor, as_json) -> None:
    """Register enrolled USER's PUBLIC_KEY (.pub) in the store (admins only)."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        record = store.register_key(public_key, user=user, printed_name=printed_name,
                                    key=signer)
    if as_json:
        emit_json(record.to_dict())
    else:
        click.echo(f"key {record.key_fingerprint} registered for {user} "
                   f"({record.printed_name})")


@key.command("list")
@_store_options
@_json_option
@_guarded
def key_list(store_location, actor, as_json) -> None:
    """Registered keys: fingerprint, user, printed name, status."""
    with _open(store_location, actor) as store:
        keys = store.keys()
    if as_json:
        emit_json([k.to_dict() for k in keys])
    else:
        for k in keys:
            click.echo(f"{k.key_fingerprint}  {k.status:<8} {k.user}  {k.printed_name}")


@key.command("revoke")
@click.argument("fingerprint")
@click.option("--reason", required=True, help="Why (kept in the log).")
@_key_option(help="Your (an admin's) private key: the revocation is signed with it.")
@_store_options
@_guarded
def key_revoke(fingerprint, reason, key_file, passphrase_env, store_location, actor) -> None:
    """Revoke a key (admins only): it signs nothing more; earlier signatures stay valid."""
    with _signed_store(key_file, passphrase_env, store_location, actor) as (store, signer):
        store.revoke_key(fingerprint, reason=reason, key=signer)
    click.echo(f"key {fingerprint} revoked")


# -- gcms batch --store S --case C ---------------------------------------------------------

#: Options added to ``gcms batch`` (see ``gcms_cli.identify``).
BATCH_OPTIONS = [
    click.Option(
        ["--store", "custody_store"], default=None, metavar="DIR|URL",
        help="Record the batch's runs, analysis and results in this case store (folder "
             "or postgresql:// URL); needs --case."),
    click.Option(
        ["--case", "custody_case"], default=None, metavar="CASE",
        help="Case to record the batch in (opened when new); needs --store, or "
             "GCMS_STORE set."),
    click.Option(
        ["--analyst", "--actor", "custody_actor"], envvar="GCMS_ACTOR", default=None,
        help="Who ran the batch, recorded in every store entry: a user enrolled in the "
             "store (its first admin when the batch creates it) [env GCMS_ACTOR; default: "
             "login name]."),
]


def batch_steps(options: dict[str, Any]) -> list[Any]:
    """The case-store step of ``gcms batch`` when ``--store``/``--case`` are given.

    ``--analyst`` (or ``GCMS_ACTOR``) also adds :class:`~gcms.custody.batch.ProcessedBy`,
    which names the user in ``results.json``, with or without a store.
    Neither store option: no store step. ``--store`` without ``--case``, or ``--case``
    without a store (``--store`` or ``$GCMS_STORE``): a usage error. The store is opened (made when
    absent) and the actor checked before the batch runs, so a store that cannot be
    used stops the batch before any work (exit 2). With a store,
    :class:`~gcms.custody.libraries.LibraryVersionUsed` names in ``results.json`` the
    governed version of the library searched.
    """
    location, case_id = options.get("custody_store"), options.get("custody_case")
    named: list[Any] = []
    if options.get("custody_actor"):  # --analyst / GCMS_ACTOR: written in results.json
        from gcms.custody.batch import ProcessedBy
        from gcms.custody.records import check_id
        from gcms.errors import GcmsError

        try:
            named = [ProcessedBy(check_id(options["custody_actor"], "--analyst"))]
        except GcmsError as error:
            raise click.UsageError(str(error)) from error
    if location is None and case_id is None:
        return named
    if case_id is None:
        raise click.UsageError("--store needs --case: the case to record the batch in")
    if location is None:
        from gcms.config import environment

        location = environment().store
        if location is None:
            raise click.UsageError("--case needs --store (or GCMS_STORE): the case store "
                                   "to record the batch in")
    from gcms.custody.batch import RecordInStore
    from gcms.custody.records import check_id
    from gcms.custody.store import default_actor
    from gcms.errors import GcmsError

    try:
        check_id(case_id, "--case")
        actor = check_id(options.get("custody_actor") or default_actor(), "--analyst")
    except GcmsError as error:
        raise click.UsageError(str(error)) from error
    step = RecordInStore(location, case_id, actor)
    try:
        with step.open_store():
            pass
    except GcmsError as error:
        raise click.UsageError(f"--store: {error}") from error
    from gcms.custody.libraries import LibraryVersionUsed  # results name its governed version

    return [*named, LibraryVersionUsed(location), step]
