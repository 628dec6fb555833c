"""The contract every reader test inherits (pybaselines' BaseTester pattern).

A subclass sets ``format_name`` and implements ``sample_files`` (real files from the
shared data, generated files from fixtures). The contract then checks, for every reader:

* the content sniffer names the format;
* reading never changes the file (hash and modification time before and after);
* the returned arrays are read-only;
* garbage bytes under the reader's extension raise ``FormatError`` naming the path;
* every truncation of a sample file ends in ``FormatError`` or a valid result, quickly;
* the SHA-256 recorded in the result is the file's own (for runs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import gcms.io
from gcms import FormatError, Run


def file_digest(path: Path) -> str:
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(child.relative_to(path)).encode())
            digest.update(child.read_bytes())
        return digest.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ReaderContract:
    """Base class for reader tests; see the module docstring."""

    format_name: str = ""
    #: "runs" or "spectra": what ``gcms.io`` should return for the sample files.
    holds: str = "runs"
    #: Extension used for the garbage file.
    garbage_suffix: str = ".dat"

    def sample_files(self, tmp_path: Path) -> list[Path]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, path: Path):
        if self.holds == "runs":
            return gcms.io.read(path)
        return gcms.io.read_spectra(path)

    def test_sniffed_by_content(self, tmp_path):
        for path in self.sample_files(tmp_path):
            assert gcms.io.sniff(path) == self.format_name, path

    def test_sniffed_without_extension(self, tmp_path):
        for path in self.sample_files(tmp_path):
            if path.is_dir():
                continue
            anonymous = tmp_path / f"anonymous_{path.name.replace('.', '_')}"
            shutil.copyfile(path, anonymous)
            assert gcms.io.sniff(anonymous) == self.format_name, path

    def test_reading_leaves_evidence_untouched(self, tmp_path):
        for path in self.sample_files(tmp_path):
            before, mtime = file_digest(path), os.stat(path).st_mtime_ns
            self._read(path)
            assert file_digest(path) == before, path
            assert os.stat(path).st_mtime_ns == mtime, path

    def test_arrays_are_read_only(self, tmp_path):
        for path in self.sample_files(tmp_path):
            result = self._read(path)
            items = [result] if isinstance(result, Run) else result[:5]
            for item in items:
                assert not item.mz.flags.writeable
                assert not item.intensity.flags.writeable

    def test_run_records_its_own_hash(self, tmp_path):
        if self.holds != "runs":
            pytest.skip("spectra files carry no run metadata")
        for path in self.sample_files(tmp_path):
            run = gcms.io.read(path)
            data_file = Path(run.metadata.data_file or path)
            assert run.metadata.sha256 == hashlib.sha256(data_file.read_bytes()).hexdigest()
            assert run.metadata.format == self.format_name

    def test_garbage_is_refused_naming_the_file(self, tmp_path):
        garbage = tmp_path / f"garbage{self.garbage_suffix}"
        garbage.write_bytes(b"\x00\x01garbage" * 100)
        with pytest.raises(FormatError, match="garbage"):
            gcms.io.read(garbage, format=self.format_name) if self.holds == "runs" else (
                gcms.io.read_spectra(garbage, format=self.format_name)
            )

    def test_truncations_fail_cleanly(self, tmp_path):
        for path in self.sample_files(tmp_path):
            if path.is_dir():
                continue
            data = path.read_bytes()
            cut = tmp_path / f"cut{path.suffix}"
            for fraction in (0.0, 0.01, 0.1, 0.5, 0.9, 0.999):
                cut.write_bytes(data[: int(len(data) * fraction)])
                try:
                    gcms.io.read(cut, format=self.format_name) if self.holds == "runs" else (
                        gcms.io.read_spectra(cut, format=self.format_name)
                    )
                except FormatError as error:
                    assert str(cut) in str(error)


# --------------------------------------------------------------------------- mutations
_MUTATION_TIMEOUT_S = 20


def _read_mutated(path: Path, format_name: str, holds: str) -> None:
    """Read a mutated file: it must end in FormatError or a valid result, fast and small."""
    import signal
    import tracemalloc

    def _hang(signum, frame):
        raise TimeoutError(f"{path}: reader still running after {_MUTATION_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, _hang)
    signal.alarm(_MUTATION_TIMEOUT_S)
    tracemalloc.start()
    try:
        if holds == "runs":
            gcms.io.read(path, format=format_name)
        else:
            gcms.io.read_entries(path, format=format_name)
    except FormatError as error:
        assert str(path) in str(error), error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    budget = 64 * 2**20 + 50 * path.stat().st_size
    assert peak < budget, f"{path}: reading a mutated file took {peak / 2**20:.0f} MiB"


def mutation_strategy(size: int):
    """Hypothesis strategy of byte-level damage: truncation, zero-fill, bit flips."""
    from hypothesis import strategies as st

    truncate = st.builds(lambda n: ("truncate", n, 0), st.integers(0, max(size - 1, 0)))
    zero = st.builds(lambda a, n: ("zero", a, n), st.integers(0, max(size - 1, 0)),
                     st.integers(1, 4096))
    flip = st.builds(lambda a, bit: ("flip", a, bit), st.integers(0, max(size - 1, 0)),
                     st.integers(0, 7))
    return st.lists(st.one_of(truncate, zero, flip), min_size=1, max_size=4)


def apply_mutations(data: bytes, mutations) -> bytes:
    buffer = bytearray(data)
    for kind, at, amount in mutations:
        at = min(at, max(len(buffer) - 1, 0))
        if kind == "truncate":
            del buffer[at:]
        elif kind == "zero":
            buffer[at:at + amount] = bytes(len(buffer[at:at + amount]))
        elif buffer:
            buffer[at] ^= 1 << amount
    return bytes(buffer)


class MutationContract:
    """Property test mixin: damaged copies of each sample file fail cleanly.

    Subclasses provide ``format_name``, ``holds`` and ``mutation_files()`` (a short list
    of small real or generated files, read without fixtures so hypothesis can drive it).
    """

    format_name: str = ""
    holds: str = "runs"

    def mutation_files(self) -> list[Path]:  # pragma: no cover - abstract
        raise NotImplementedError

    def test_mutated_files_fail_cleanly(self, tmp_path_factory):
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        files = [p for p in self.mutation_files() if p.is_file()]
        if not files:
            pytest.skip("no sample file for mutation testing")
        work = tmp_path_factory.mktemp("mutations")
        originals = {p: p.read_bytes() for p in files}

        @settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.sampled_from(files), st.data())
        def check(path, data):
            original = originals[path]
            mutations = data.draw(mutation_strategy(len(original)))
            target = work / f"mutated{path.suffix}"
            target.write_bytes(apply_mutations(original, mutations))
            _read_mutated(target, self.format_name, self.holds)

        check()
