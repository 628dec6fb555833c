"""Output folders that never mix two batches.

A batch writes into a folder of its own. Before any run is processed,
:func:`prepare_out_dir` decides what to do with the folder given:

``"new"`` (what ``gcms batch`` does without options)
    the folder must not exist or be empty; a folder holding anything is refused, and the
    message says what it holds and what to do;
``"resume"`` (``--resume``)
    the folder must hold a batch of the same sequence (same SHA-256 of the sequence
    file): it is continued, the runs already finished are reused from its cache;
``"replace"`` (``--replace``)
    an existing folder is moved aside to a timestamped sibling
    (``results.replaced-20240207T101500Z``), never deleted, and the batch starts afresh.

``None`` (the default of :func:`gcms.batch.run_batch` for Python callers) accepts a new
or empty folder, continues a folder holding a batch of the same sequence, and refuses a
folder holding another batch.

The folder's :data:`MARKER` file (``batch.json``) records the sequence's SHA-256 and
path, when the batch started, and its status: ``running`` until the results are
written, then ``complete``. A batch that was interrupted (killed, power cut) leaves
``running``: the next batch into that folder is told so and how to continue it. Every
file of the folder is written through a temporary file in the same folder and an atomic
rename (:func:`write_atomic`), so a reader never sees half a file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gcms._files import write_atomic
from gcms.errors import GcmsError

if TYPE_CHECKING:  # pragma: no cover
    from gcms.sequence import Sequence

__all__ = [
    "MARKER",
    "OutFolder",
    "OutFolderError",
    "OutMode",
    "finish_out_dir",
    "prepare_out_dir",
    "resume_hint",
    "sequence_sha256",
    "write_atomic",
]

OutMode = Literal["new", "resume", "replace"]
OUT_MODES: tuple[str, ...] = ("new", "resume", "replace")
#: The file in an output folder that says which sequence's batch it holds.
MARKER = "batch.json"
_MARKER_FORMAT = "gcms.batch.folder"


class OutFolderError(GcmsError):
    """An output folder cannot be used for this batch (it holds something else)."""


@dataclass(frozen=True, slots=True)
class OutFolder:
    """The folder a batch writes into, and what was done to make it ready."""

    path: Path
    mode: str
    resumed: bool = False
    moved_aside: Path | None = None

    def note(self) -> str | None:
        """A sentence for the batch's notes, or None when the folder was new."""
        if self.moved_aside is not None:
            return (f"the previous contents of {self.path} were moved aside to "
                    f"{self.moved_aside} (--replace)")
        if self.resumed:
            return f"continued the batch of this sequence already in {self.path} (--resume)"
        return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def sequence_sha256(sequence: Sequence) -> str:
    """The sequence's identity: the SHA-256 of its CSV as read, or of its rows.

    A sequence read from a file (:func:`gcms.sequence.read_sequence`) carries the hash of
    the bytes it was parsed from; one built in Python is hashed from its injections.
    """
    if sequence.sha256:
        return sequence.sha256
    rows = [injection.to_dict() for injection in sequence.injections]
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's marker, or the sequence of a results.json from before markers."""
    marker = folder / MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("format") == _MARKER_FORMAT:
            return data
    except (OSError, ValueError):
        pass
    try:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        sequence = results.get("sequence") or {}
        return {"sequence_sha256": sequence.get("sha256"), "sequence_path":
                sequence.get("path"), "status": "complete", "started_utc":
                results.get("created_utc")}
    except (OSError, ValueError, AttributeError):
        return None


def _contents(folder: Path, limit: int = 4) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more"
                                        if len(names) > limit else "")
    return f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}: {shown}"


def _aside(path: Path, when: datetime.datetime) -> Path:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.replaced-{stamp}")
    count = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.replaced-{stamp}-{count}")
        count += 1
    return candidate


def _write_marker(folder: Path, fields: dict[str, Any]) -> None:
    write_atomic(folder / MARKER, json.dumps({"format": _MARKER_FORMAT, **fields},
                                             indent=1) + "\n")


def prepare_out_dir(path: str | os.PathLike, sequence: Sequence, *,
                    mode: OutMode | None = None) -> OutFolder:
    """Make ``path`` ready for a batch of ``sequence`` (module docstring), or refuse.

    Returns the :class:`OutFolder`; its marker says ``running``.

    Raises
    ------
    OutFolderError
        The folder holds something this mode may not touch; the message says what and
        how to go on.
    """
    if mode is not None and mode not in OUT_MODES:
        raise ValueError(f"output folder mode must be one of {', '.join(OUT_MODES)}")
    folder = Path(path)
    digest = sequence_sha256(sequence)
    now = _now()
    resumed, moved = False, None
    if folder.exists() and not folder.is_dir():
        raise OutFolderError(f"{folder}: exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        held = _read_marker(folder)
        same = held is not None and held.get("sequence_sha256") == digest
        if mode == "replace":
            moved = _aside(folder, now)
            try:
                folder.rename(moved)
            except OSError as error:
                raise OutFolderError(f"{folder}: cannot be moved aside to {moved.name}: "
                                     f"{error.strerror or error}") from error
        elif same and mode in ("resume", None):
            resumed = True
        elif held is None and mode is None:
            pass  # Python callers may write into a folder that holds no batch
        else:
            raise OutFolderError(_refusal(folder, held, same, mode))
    folder.mkdir(parents=True, exist_ok=True)
    previous = _read_marker(folder) if resumed else None
    _write_marker(folder, {
        "sequence_sha256": digest, "sequence_path": str(sequence.path),
        "n_runs": len(sequence), "status": "running",
        "started_utc": (previous or {}).get("started_utc") or now.isoformat(
            timespec="seconds"),
        "resumed_utc": now.isoformat(timespec="seconds") if resumed else None,
    })
    return OutFolder(path=folder, mode=mode or "auto", resumed=resumed, moved_aside=moved)


def _refusal(folder: Path, held: dict[str, Any] | None, same: bool,
             mode: OutMode | None) -> str:
    """Why ``folder`` is refused, and what to do instead."""
    if held is None:
        return (f"{folder}: not empty ({_contents(folder)}) and holds no batch: a batch "
                f"writes into a new or empty folder; choose another --out, or add "
                f"--replace to move this folder aside (nothing is deleted)")
    started = held.get("started_utc") or "an unknown time"
    if same:
        state = ("an interrupted batch" if held.get("status") == "running"
                 else "the finished batch")
        return (f"{folder}: holds {state} of this sequence (started {started}): add "
                f"--resume to continue it (finished runs are reused), or --replace to "
                f"move it aside and start afresh")
    return (f"{folder}: holds the batch of another sequence ({held.get('sequence_path')}, "
            f"SHA-256 {str(held.get('sequence_sha256'))[:12]}..., started {started}): "
            f"its files would mix with this batch's; choose another --out, or add "
            f"--replace to move it aside (nothing is deleted)")


def finish_out_dir(folder: OutFolder) -> None:
    """Mark the folder's batch ``complete`` (after its results are written)."""
    held = _read_marker(folder.path) or {}
    held.pop("format", None)
    held.update(status="complete", finished_utc=_now().isoformat(timespec="seconds"))
    _write_marker(folder.path, held)


def resume_hint(path: str | os.PathLike, sequence: Sequence) -> str | None:
    """How to continue the batch of ``sequence`` left unfinished in ``path``, or None."""
    folder = Path(path)
    held = _read_marker(folder) if folder.is_dir() else None
    if (held is None or held.get("status") != "running"
            or held.get("sequence_sha256") != sequence_sha256(sequence)):
        return None
    return (f"the batch in {folder} did not finish; the runs finished so far are kept in "
            f"its cache: run the same command with --resume to continue it")
