"""``gcms library``: build, inspect and search reference libraries."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, emit_json, error_line, guarded

#: Skipped entries listed one per line in the human output before "... and N more".
_SKIPPED_SHOWN = 25


@click.group()
def library() -> None:
    """Build, inspect and search reference libraries (compiled HDF5)."""


@library.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Library file to write (HDF5).")
@click.option("--title", default="", help="Title stored in the library.")
@click.option("--strict", is_flag=True,
              help="Refuse the build (nothing written) when any entry would be skipped or "
                   "a named file cannot be read; the refusal names each one.")
@click.option("--max-mz", type=click.FloatRange(1, 5000), default=None,
              help="Largest m/z an entry may hold (default 5000, the physical limit of an "
                   "EI GC-MS spectrum; 2000 is the range NIST MS Search compares); entries "
                   "beyond it are skipped and listed.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@guarded
def build(sources: tuple[str, ...], output: str, title: str, strict: bool,
          max_mz: float | None, as_json: bool) -> None:
    """Compile SOURCES (MSP/NIST text, JCAMP-DX, MassBank files or folders) into a library.

    Folders are walked recursively; files no spectra reader recognises are ignored and
    counted. Entries that cannot be used (empty, negative or NaN intensities, m/z outside
    the EI range, absurd peak counts...) are skipped, each reported with file, entry and
    reason, and listed in the library's metadata. Exit 0 when the library was written, 2
    when nothing usable was found, a named file could not be read (the library is still
    written from the others), or --strict refused the build.
    """
    from gcms.library import build_library
    from gcms.library.build import EI_MZ_MAX

    report = build_library(sources, output, title=title, strict=strict,
                           max_mz=max_mz or EI_MZ_MAX)
    for failure in report.failed:
        error_line(str(failure))
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"{report.path}: {report.n_entries} entries from {len(report.files)} "
                   f"files; {len(report.skipped)} entries skipped; "
                   f"{len(report.ignored)} files ignored (not spectra)")
        click.echo(f"  sha256 {report.library.content_sha256}")
        for skip in report.skipped[:_SKIPPED_SHOWN]:
            click.echo(f"  skipped {skip}")
        if len(report.skipped) > _SKIPPED_SHOWN:
            click.echo(f"  ... and {len(report.skipped) - _SKIPPED_SHOWN} more skipped "
                       f"(--json lists them all)")
    sys.exit(EXIT_INPUT if report.failed else EXIT_OK)


@library.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@guarded
def info(path: str, as_json: bool) -> None:
    """Entries, peaks, m/z range, sources, skipped entries and content hash of a library.

    The content hash is verified on opening; a library whose content no longer matches
    it is refused (exit 2).
    """
    from gcms.library import Library

    summary = Library.open(path).info()
    if as_json:
        emit_json(summary)
        return
    rows = [
        ("title", summary["title"] or "-"),
        ("entries", summary["n_entries"]),
        ("peaks", f"{summary['n_peaks']} (median {summary['peaks_per_entry_median']:g} "
                  f"per entry)"),
        ("m/z", "-" if not summary["mz_range"] else
         f"{summary['mz_range'][0]} - {summary['mz_range'][1]}"),
        ("InChIKey", f"{summary['n_with_inchikey']} entries"),
        ("RI", f"{summary['n_with_retention_index']} entries"),
        ("in-house", f"{summary['n_in_house']} entries"),
        ("sources", f"{len(summary['sources'])} files"),
        ("skipped", f"{summary['n_skipped']} entries"),
        ("sha256", summary["content_sha256"]),
    ]
    click.echo(summary["path"])
    for label, value in rows:
        click.echo(f"  {label:<10} {value}")


@library.command()
@click.argument("library_path", metavar="LIBRARY", type=click.Path())
@click.argument("queries", nargs=-1, required=True, type=click.Path())
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="Hits per query spectrum.")
@click.option("--rank-by", type=click.Choice(["identity", "reverse", "similarity"]),
              default="identity", show_default=True, help="Score that orders the hits.")
@click.option("--presearch", type=click.Choice(["exact", "fast", "off"]), default="exact",
              show_default=True,
              help="exact (and fast, its former alias): the hits of scoring every entry; "
                   "off: score every entry.")
@click.option("--min-match-factor", type=click.IntRange(0, 999), default=None,
              help="List only hits scoring at least this (0-999); every such hit is listed, "
                   "exactly scored. Much faster on large libraries.")
@click.option("--ri-window", type=float, default=None,
              help="Drop hits whose RI differs from the query's by more (RI units).")
@click.option("--ri-penalty", type=float, default=None,
              help="MF units per RI unit beyond --ri-window (default window 50).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu",
              show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help='A list of {"query", "hits"} objects, one per query spectrum.')
@guarded
def search(library_path: str, queries: tuple[str, ...], top: int, rank_by: str,
           presearch: str, min_match_factor: int | None, ri_window: float | None,
           ri_penalty: float | None, device: str, as_json: bool) -> None:
    """Search every spectrum of the QUERIES files (MSP, JCAMP-DX, MassBank) in LIBRARY.

    Scores follow NIST MS Search (0-999): MF (identity), RMF (reverse), probability
    (percent). Exit 0 when every query file was read, 2 otherwise (the others are still
    searched).
    """
    from gcms.errors import GcmsError
    from gcms.io import read_entries
    from gcms.library import Library, SearchSettings

    lib = Library.open(library_path)
    spectra, failed = [], False
    for path in queries:
        try:
            report = read_entries(path)
        except GcmsError as error:
            error_line(str(error))
            failed = True
            continue
        for skip in report.skipped:
            error_line(f"query not used: {skip}")
        for n, spectrum in enumerate(report.spectra):
            if spectrum.name is None:
                label = path if len(report.spectra) == 1 else f"{path}#{n + 1}"
                spectrum = spectrum.replace(name=label)
            spectra.append(spectrum)
    ri_mode = "off"
    if ri_penalty is not None:
        ri_mode = "penalty"
    elif ri_window is not None:
        ri_mode = "window"
    settings_args = {"rank_by": rank_by, "presearch": presearch, "ri_mode": ri_mode,
                     "min_match_factor": min_match_factor}
    if ri_window is not None:
        settings_args["ri_window"] = ri_window
    if ri_penalty is not None:
        settings_args["ri_penalty"] = ri_penalty
    try:
        results = lib.search(spectra, top=top, settings=SearchSettings(**settings_args),
                             device=device) if spectra else []
    except (GcmsError, ValueError) as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if as_json:
        emit_json([r.to_dict() for r in results])
    else:
        click.echo(f"library {lib.path} ({len(lib)} entries, sha256 "
                   f"{lib.content_sha256[:16]}...)")
        for result in results:
            click.echo(f"\n{result.query}")
            click.echo(f"  {'#':>3} {'MF':>4} {'RMF':>4} {'Prob%':>6}  {'CAS':<12} "
                       f"{'lib#':>7}  name")
            for hit in result.hits:
                click.echo(f"  {hit.rank:>3} {hit.match_factor:>4} "
                           f"{hit.reverse_match_factor:>4} {hit.probability:>6.2f}  "
                           f"{hit.cas or '-':<12} {hit.library_index:>7}  {hit.name or '-'}"
                           + ("  [RETIRED]" if "retired" in (hit.provenance or {}) else ""))
    sys.exit(EXIT_INPUT if failed else EXIT_OK)


@library.command()
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path(), required=False)
@click.option("--min-mf", type=click.IntRange(0, 999), default=None,
              help="Mark spectrum changes whose MF (new against old) is below this and "
                   "exit 1 when there is one.")
@click.option("--duplicates", is_flag=True,
              help="List duplicates inside OLD (and NEW when given) instead: entries with "
                   "one InChIKey whose spectra score at least --min-mf (default 900).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@guarded
def diff(old: str, new: str | None, min_mf: int | None, duplicates: bool,
         as_json: bool) -> None:
    """Entries added, removed and changed from library OLD to library NEW.

    Entries are matched by InChIKey when both have one, else by name (and CAS where both
    state one). A changed spectrum is scored new against old with the NIST identity MF
    (999: the change does not alter a search); changed names, CAS, formula, MW, RI are
    listed field by field. Both libraries' identity hashes head the output. Exit 0, 1
    when --min-mf is given and a spectrum change scores below it, 2 on unreadable input.
    """
    from gcms.library import Library
    from gcms.library.governance import DUPLICATE_MIN_MF, diff_libraries, find_duplicates

    if new is None and not duplicates:
        error_line("library diff: give two libraries (OLD NEW), or --duplicates")
        sys.exit(EXIT_INPUT)
    libraries = [Library.open(p) for p in (old, new) if p is not None]
    if duplicates:
        threshold = DUPLICATE_MIN_MF if min_mf is None else min_mf
        found = {str(lib.path): find_duplicates(lib, min_mf=threshold) for lib in libraries}
        if as_json:
            emit_json({"min_mf": threshold, "libraries": [
                {"path": path, "identity_sha256": lib.identity_sha256,
                 "duplicates": [d.to_dict() for d in dups]}
                for lib, (path, dups) in zip(libraries, found.items(), strict=True)]})
            return
        for lib, (path, dups) in zip(libraries, found.items(), strict=True):
            click.echo(f"{path} (identity {lib.identity_sha256}): {len(dups)} duplicate "
                       f"pairs (same InChIKey, MF >= {threshold})")
            for d in dups:
                click.echo(f"  #{d.first + 1} {d.names[0] or '-'} = #{d.second + 1} "
                           f"{d.names[1] or '-'}  MF {d.match_factor}  {d.inchikey}")
        return
    result = diff_libraries(*libraries)
    low = result.below(min_mf) if min_mf is not None else []
    if as_json:
        data = result.to_dict()
        if min_mf is not None:
            data["min_mf"] = min_mf
            data["below_min_mf"] = [c.new_index for c in low]
        emit_json(data)
    else:
        for label, side in (("old", result.old), ("new", result.new)):
            click.echo(f"{label} {side['path']}: {side['n_entries']} entries, identity "
                       f"{side['identity_sha256']}")
        click.echo(f"added {len(result.added)}, removed {len(result.removed)}, changed "
                   f"{len(result.changed)}, retired {len(result.retired)}, unchanged "
                   f"{result.n_unchanged}")
        for entry in result.retired:
            click.echo(f"  x #{entry['index'] + 1} {entry['name'] or '-'} retired: "
                       f"{entry['retirement'].get('reason')}")
        for entry in result.added:
            click.echo(f"  + #{entry['index'] + 1} {entry['name'] or '-'}")
        for entry in result.removed:
            click.echo(f"  - #{entry['index'] + 1} {entry['name'] or '-'}")
        for change in result.changed:
            mark = "!" if change in low else "~"
            parts = [f"{k}: {o!r} -> {n!r}" for k, (o, n) in change.fields.items()]
            if change.match_factor is not None:
                parts.insert(0, f"spectrum MF {change.match_factor}")
            click.echo(f"  {mark} #{change.old_index + 1}->#{change.new_index + 1} "
                       f"{change.name or '-'}: {'; '.join(parts)}")
    sys.exit(EXIT_FINDINGS if low else EXIT_OK)


@library.command()
@click.argument("path", metavar="LIBRARY", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="File to write (.msp or .msl).")
@click.option("--format", "fmt", type=click.Choice(["msp", "msl"]), default=None,
              help="Output format (default: from the output file's suffix).")
@guarded
def export(path: str, output: str, fmt: str | None) -> None:
    """Write the entries of compiled LIBRARY as MSP (NIST MS Search) or AMDIS MSL.

    Peaks as compiled (nominal m/z, base peak 999); name, synonyms, CAS, formula, MW,
    InChIKey, RI, comment; and per entry the library's title and identity SHA-256 and the
    entry's source file, entry and SHA-256 (neither format has a file header). Exit 0, 2
    on unreadable input or an unwritable output.
    """
    from gcms.library import Library
    from gcms.library.governance import export_library

    lib = Library.open(path)
    written = export_library(lib, output, fmt=fmt)
    click.echo(f"{written}: {len(lib)} entries from {lib.path} (identity "
               f"{lib.identity_sha256})")


# -- governance: each change a signed, approvable entry in the case store ------------------


def _governed(function):
    """--store/--actor and --key/--passphrase-env, as the custody commands take them."""
    from gcms_cli.custody import _key_option, _store_options

    return _store_options(_key_option()(function))


def _record_change(library_path: str, output: str | None, library_id: str | None,
                   change: str, make, reason: str, key_file: str, passphrase_env: str,
                   store_location: str | None, actor: str | None) -> None:
    """Open LIBRARY, make the change, record it signed in the store, write the new file."""
    from pathlib import Path

    from gcms_cli.custody import _signed_store

    from gcms.errors import GcmsError
    from gcms.library import Library

    try:
        old = Library.open(library_path)
        new, details = make(old)
        lib_id = library_id or Path(library_path).stem
        with _signed_store(key_file, passphrase_env, store_location, actor) as (store, key):
            version = store.record_library_change(
                lib_id, change, previous_identity=old.identity_sha256,
                identity=new.identity_sha256, details=details, reason=reason, key=key,
                title=old.title or None)
        written = new.write(output or library_path)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    click.echo(f"{written}: library {lib_id} v{version['version']} ({change}), identity "
               f"{new.identity_sha256}; awaiting approval by another user "
               f"('gcms library approve {lib_id} {version['version']}')")


_ID_OPTION = click.option("--library-id", default=None,
                          help="The library's id in the store (default: the file's stem).")
_OUT_OPTION = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                           help="Write the new version here (default: over LIBRARY).")


@library.command()
@click.argument("library_path", metavar="LIBRARY", type=click.Path())
@click.option("--entry", "entry", required=True, type=click.IntRange(1),
              help="Entry number (1-based, as 'library diff' lists them).")
@click.option("--name", default=None, help="Corrected name.")
@click.option("--cas", default=None, help="Corrected CAS number.")
@click.option("--formula", default=None, help="Corrected formula.")
@click.option("--inchikey", default=None, help="Corrected InChIKey.")
@click.option("--ri", "retention_index", type=float, default=None,
              help="Corrected retention index (give --ri-column with it).")
@click.option("--ri-column", default=None,
              help="Column type of the RI: non-polar, semi-standard non-polar, polar.")
@click.option("--spectrum", "spectrum_file", type=click.Path(), default=None,
              help="File holding the corrected spectrum (its first entry: MSP, JCAMP...).")
@click.option("--reason", required=True, help="Why the entry is corrected (recorded).")
@_ID_OPTION
@_OUT_OPTION
@_governed
def correct(library_path, entry, name, cas, formula, inchikey, retention_index, ri_column,
            spectrum_file, reason, library_id, output, key_file, passphrase_env,
            store_location, actor) -> None:
    """Correct an entry's spectrum, name, CAS, formula, InChIKey or RI (with column type).

    Writes a new version of LIBRARY and records the change in the case store as an entry
    signed with your key; another user approves it ('gcms library approve'). Exit 0, 2 on
    bad input or a refusal.
    """
    from gcms.library.governance import correct_entry
    from gcms.retention.columns import column_type

    fields = {k: v for k, v in (("name", name), ("cas", cas), ("formula", formula),
                                ("inchikey", inchikey), ("retention_index", retention_index))
              if v is not None}
    if ri_column is not None:
        fields["ri_column"] = column_type(ri_column)

    def make(old):
        spectrum = None
        if spectrum_file is not None:
            from gcms.io import read_entries

            found = read_entries(spectrum_file).spectra
            if not found:
                from gcms.errors import FormatError

                raise FormatError(f"{spectrum_file}: no spectrum to correct the entry with")
            spectrum = found[0]
        return correct_entry(old, entry - 1, spectrum=spectrum, **fields)

    _record_change(library_path, output, library_id, "correct", make, reason, key_file,
                   passphrase_env, store_location, actor)


@library.command()
@click.argument("library_path", metavar="LIBRARY", type=click.Path())
@click.option("--entry", "entry", required=True, type=click.IntRange(1),
              help="Entry number (1-based).")
@click.option("--reason", required=True, help="Why the entry is retired (recorded).")
@_ID_OPTION
@_OUT_OPTION
@_governed
def retire(library_path, entry, reason, library_id, output, key_file, passphrase_env,
           store_location, actor) -> None:
    """Retire an entry: kept (never deleted), its hits flagged; a signed change.

    Exit 0, 2 on bad input or a refusal.
    """
    from gcms.custody.store import default_actor
    from gcms.library.governance import retire_entry

    def make(old):
        return retire_entry(old, entry - 1, reason=reason, by=actor or default_actor())

    _record_change(library_path, output, library_id, "retire", make, reason, key_file,
                   passphrase_env, store_location, actor)


@library.command()
@click.argument("library_path", metavar="LIBRARY", type=click.Path())
@click.argument("other", type=click.Path())
@click.option("--min-mf", type=click.IntRange(0, 999), default=None,
              help="Duplicates: same InChIKey and MF at least this (default 900).")
@click.option("--reason", required=True, help="Why the libraries are merged (recorded).")
@_ID_OPTION
@_OUT_OPTION
@_governed
def merge(library_path, other, min_mf, reason, library_id, output, key_file, passphrase_env,
          store_location, actor) -> None:
    """Merge OTHER into LIBRARY, leaving out duplicates; a signed change.

    OTHER is a compiled library or any library file gcms reads (MSP, AMDIS MSL,
    JCAMP-DX...: entries added from a file). An entry of OTHER with the InChIKey of an
    entry of LIBRARY and an MF of --min-mf or more against it is a duplicate and is not
    taken (listed in the change). Exit 0, 2 on bad input or a refusal.
    """
    from pathlib import Path

    from gcms.errors import LibraryError
    from gcms.library import Library, build_library
    from gcms.library.governance import DUPLICATE_MIN_MF, merge_libraries

    def make(old):
        path = Path(other)
        if not path.is_file():
            raise LibraryError(f"{other}: no such library file")
        compiled = path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # HDF5 signature
        incoming = Library.open(path) if compiled else build_library([path]).library
        merged, report = merge_libraries(old, incoming,
                                         min_mf=DUPLICATE_MIN_MF if min_mf is None else min_mf)
        return merged, {"other": str(other), **report.to_dict()}

    _record_change(library_path, output, library_id, "merge", make, reason, key_file,
                   passphrase_env, store_location, actor)


@library.command()
@click.argument("library_id")
@click.argument("version", type=click.IntRange(1))
@click.option("--reason", default=None, help="What was checked (recorded).")
@_governed
def approve(library_id, version, reason, key_file, passphrase_env, store_location,
            actor) -> None:
    """Approve VERSION of LIBRARY_ID: a reviewer, qa or admin who did not make the change.

    Exit 0, 2 on a refusal.
    """
    from gcms_cli.custody import _signed_store

    from gcms.errors import GcmsError

    try:
        with _signed_store(key_file, passphrase_env, store_location, actor) as (store, key):
            store.approve_library_change(library_id, version, key=key, reason=reason)
            who = store.actor
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    click.echo(f"library {library_id} v{version}: approved by {who}")


@library.command("log")
@click.argument("library_id")
@click.option("--store", "store_location", envvar="GCMS_STORE", default=None,
              metavar="DIR|URL", help="Store folder or postgresql:// URL [env GCMS_STORE].")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def log_(library_id, store_location, as_json) -> None:
    """The versions of LIBRARY_ID: change, who made it, when, why, who approved it."""
    from gcms.custody import CaseStore
    from gcms.errors import GcmsError

    try:
        with CaseStore(store_location, actor="reader", create=False) as store:
            versions = store.library_versions(library_id)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
    if as_json:
        emit_json({"library_id": library_id, "versions": versions})
        return
    if not versions:
        click.echo(f"library {library_id}: no governed change recorded in the store")
    for v in versions:
        approved = ", ".join(v["approved_by"]) or "NOT APPROVED"
        click.echo(f"v{v['version']} {v['change']} by {v['actor']} at {v['at']} "
                   f"(identity {v['identity_sha256'][:16]}...): {v['reason']}; "
                   f"approved: {approved}")


# In-house entries from reference-standard runs (the quantitation work owns the command).
from gcms_cli.library_add import add as _add  # noqa: E402

library.add_command(_add)
