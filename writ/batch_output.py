"""A batch run's target file in, its output written safely out: a partial file beside the target, a progress
record after every block, and the rename that makes the output whole. Every engine of `writ batch` (row, columnar,
Spark) writes through it, so all three refuse the same outputs and leave the same things behind.

While a run goes on, the decisions go to `.NAME.partial` beside the target
and, after every block written, `.NAME.progress` records how far the run
got: the cases written, the bytes of input consumed, the bytes of output
written. The target itself is replaced only at the end, by a rename, so a
killed run (even by SIGKILL) leaves the previous output exactly as it was.
`--resume` continues such a run: it checks that the policy files, the `on`
date and the input are unchanged, cuts the partial file back to the recorded
size and goes on from there. A lock on the partial file keeps two runs from
writing the same target at once.

The input is recognised by its identity (device, inode, size, modification
and change times), not by a hash of its content: hashing the input as it is
read cost the parent process 8% of a million-case run on two cores, and the
identity is the stricter test (any write to the file changes its change
time, which no one can set back).

The columnar and Spark engines write without a progress record (`wanted`
None): their chunks are not byte ranges of the input, so they cannot resume,
and a failed run removes its partial file; a killed one leaves it, and the
next run starts it afresh.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TextIO

from writ.files import check_output, mode_for, refuse

PROGRESS_SCHEMA = 1


@dataclass
class Progress:
    """What a resumed run must match (input, policy files, date) and how far the run got."""

    input: str
    policy: str
    hashes: dict[str, str]
    on: str | None
    schema: int = PROGRESS_SCHEMA
    cases: int = 0
    failed: int = 0
    next_line: int = 1  # the input line the rest of the run starts at
    input_offset: int = 0  # bytes of input consumed, always at the end of a line (of a row, for CSV)
    input_identity: list[int] = field(default_factory=list)  # device, inode, size, mtime and ctime in ns
    output_bytes: int = 0

    def same_run(self, other: Progress) -> str | None:
        """Why `other` (the run asked for now) cannot continue this one, or None."""
        for name, what in (("input", "the input file"), ("policy", "the policy"), ("on", "the --on date"),
                           ("hashes", "the policy files")):
            if getattr(self, name) != getattr(other, name):
                return f"{what} differ from the interrupted run's"
        if self.input_identity != other.input_identity:
            return "the input file was changed (or replaced) since the interrupted run"
        return None


def identity(path: Path) -> list[int]:
    """What tells a file apart from any changed or replaced version of it."""
    stat = os.stat(path)
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def check_stream(output: TextIO, source: Path) -> None:
    """Refuse standard output (or any open stream) that is the input file: writing it would destroy the input."""
    try:
        same = os.fstat(output.fileno())
        first = os.stat(source)
    except (AttributeError, OSError, ValueError):  # a stream without a file (tests, pipes that closed)
        return
    if (same.st_dev, same.st_ino) == (first.st_dev, first.st_ino):
        raise refuse("--output", "standard output is the input file; writing it would destroy the input")


def open_output(output: Path | TextIO, source: Path, wanted: Progress | None = None,
                resume: bool = False) -> BatchOutput | None:
    """Where a batch run writes: a `BatchOutput` for a file, None for a stream (standard output), after refusing
    an output that is the input, a folder, in no folder, or (with `resume`) a stream."""
    if isinstance(output, Path):
        return BatchOutput(output, source, wanted, resume)
    if resume:
        raise refuse("--resume", "needs an output file (-o FILE), not standard output")
    check_stream(output, source)
    return None


class BatchOutput:
    """The partial file, the progress record and the final rename of one batch run's output.

    With `wanted` None the run keeps no progress record (it cannot be resumed): `abort` then removes the partial
    file rather than keeping it for `--resume`."""

    def __init__(self, target: Path, source: Path, wanted: Progress | None = None, resume: bool = False):
        check_output(target, "--output", [source])
        if resume and wanted is None:
            raise refuse("--resume", "only the row engine resumes an interrupted run (its chunks are byte ranges "
                                     "of the input); run again without --resume")
        self.resumable = wanted is not None
        self.target = target
        self.partial = target.with_name(f".{target.name}.partial")
        self.record = target.with_name(f".{target.name}.progress")
        self.note: str | None = None
        try:
            fd = os.open(self.partial, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise refuse("--output", f"cannot write beside `{target}`: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise refuse("--output", f"another `writ batch` is writing `{target}` right now") from None
        try:
            self.progress = self._start(fd, wanted or Progress(str(source), "", {}, None), resume)
        except BaseException:
            os.close(fd)
            raise
        self.resumed = self.progress.cases
        os.ftruncate(fd, self.progress.output_bytes)
        os.lseek(fd, self.progress.output_bytes, os.SEEK_SET)
        self.stream: IO[bytes] = os.fdopen(fd, "wb")

    def _start(self, fd: int, wanted: Progress, resume: bool) -> Progress:
        """The progress to start from: the interrupted run's (checked) with `resume`, else a fresh one."""
        if not resume:
            if self.record.exists():
                self.note = "an interrupted run's partial output was discarded (--resume would have continued it)"
                os.unlink(self.record)
            return wanted
        try:
            earlier = Progress(**json.loads(self.record.read_text(encoding="utf-8")))
        except FileNotFoundError:
            self.note = "there was no interrupted run to resume; starting from the beginning"
            return wanted
        except (OSError, ValueError, TypeError) as exc:
            raise refuse("--resume", f"the progress record `{self.record}` cannot be read ({exc}); run again "
                                     "without --resume to start afresh") from None
        reason = earlier.same_run(wanted)
        if reason is None and os.fstat(fd).st_size < earlier.output_bytes:
            reason = f"the partial output `{self.partial}` is shorter than its progress record says"
        if reason is not None:
            raise refuse("--resume", f"cannot resume: {reason}; run again without --resume to start afresh")
        return earlier

    def write(self, data: bytes, cases: int, failed: int, mark: tuple[int, int]) -> None:
        """One block's output lines, in order, and where the block ended in the input (the next line's number, the
        byte offset); then the progress record says the run got this far."""
        next_line, input_end = mark
        self.stream.write(data)
        p = self.progress
        p.cases, p.failed, p.next_line, p.input_offset = p.cases + cases, p.failed + failed, next_line, input_end
        p.output_bytes += len(data)
        self.stream.flush()  # the bytes the record counts are in the file before the record says so
        self._save()

    def write_bytes(self, data: bytes) -> None:
        """Output bytes of a run that keeps no progress record (columnar, Spark)."""
        self.stream.write(data)

    def _save(self) -> None:
        temporary = self.record.with_name(self.record.name + ".new")
        temporary.write_text(json.dumps(asdict(self.progress)), encoding="utf-8")
        os.replace(temporary, self.record)

    def finish(self, mode: int | None = None) -> None:
        """The output is whole: give it `mode` (by default what a plain open of the target would give) and rename
        it over the target; the progress record goes."""
        mode = mode_for(self.target) if mode is None else mode
        if not self.stream.closed:  # a Parquet or Arrow writer may have closed it already
            self.stream.flush()
        os.chmod(self.partial, mode)
        os.replace(self.partial, self.target)
        with contextlib.suppress(OSError):
            os.unlink(self.record)
        self.close()

    def close(self) -> None:
        """Stop writing; an unfinished run's partial file and progress record stay for `--resume`."""
        if not self.stream.closed:
            self.stream.close()

    def abort(self) -> None:
        """The run failed: a resumable run's partial file and record stay for `--resume`, any other's go."""
        self.close()
        if not self.resumable:
            with contextlib.suppress(OSError):
                os.unlink(self.partial)
