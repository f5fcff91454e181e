"""A path to write in, a file written whole or not at all out: the one way writ's commands write their outputs.

An output is written to a temporary file beside its target and renamed over
it only once complete, so a run that is killed, or fails, leaves the previous
output as it was (a rename within one folder is atomic). An output that is
one of the command's inputs (the same file, also through a symlink or a hard
link) is refused before anything is opened: writing it would destroy the
input. Every failure is an `InputError` naming the option and the reason.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from writ.dsl.errors import InputError, InputProblem


def refuse(option: str, message: str) -> InputError:
    return InputError([InputProblem(option, message)])


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (by device and inode, so symlinks and hard links count)."""
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def check_output(path: Path, option: str, inputs: Iterable[Path] = ()) -> None:
    """Refuse, before any work, an output that is a folder, lies in no folder, or is one of `inputs`."""
    if path.is_dir():
        raise refuse(option, f"`{path}` is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise refuse(option, f"cannot write `{path}`: the folder `{folder}` does not exist")
    for source in inputs:
        if same_file(path, source):
            raise refuse(option, f"`{path}` is the input file `{source}`; writing it would destroy the input, "
                                 "so choose another output")


def mode_for(path: Path) -> int:
    """The permissions a plain `open(path, "w")` would give: the old file's, else 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def replacing(path: Path, option: str, mode: int | None = None) -> Iterator[IO[bytes]]:
    """A binary file to write `path`'s new content into; renamed over `path` when the block ends without error,
    removed (leaving `path` untouched) when it raises. `mode` defaults to what a plain open would give."""
    check_output(path, option)
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise refuse(option, f"cannot write `{path}`: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.chmod(temporary, mode_for(path) if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_whole(path: Path, data: bytes | str, option: str, mode: int | None = None) -> None:
    """Write `data` (text as UTF-8) to `path` whole or not at all (with `mode`, else as a plain open would)."""
    try:
        with replacing(path, option, mode) as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        raise refuse(option, f"cannot write `{path}`: {exc.strerror}") from None
