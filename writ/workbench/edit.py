"""A draft policy file in, what an author needs before saving it out: its diagnostics (the language server's, so
the CLI's), its policy's YAML tests run against it, and, on request, the file written.

A draft is never run in the library being served: tests run on a copy of the policies folder with the draft in
place, and saving checks that whole copy first (a draft that breaks a version amending it is refused like one
with errors of its own). The file is written to a temporary file in the policy's folder and renamed over the
old one, so a reader never sees half a file; a name that would leave the policy's folder is refused.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from writ.dsl.errors import Diagnostic, InputError, InputProblem, PolicyError, SourceMap, render
from writ.lsp import analyse

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.writ")


@dataclass(frozen=True)
class Shown:
    """A diagnostic as the CLI prints it (`file:line:col: error[code]: ...`, the line, the caret, the help)."""

    severity: str
    code: str
    message: str
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class TestRow:
    file: str
    name: str
    passed: bool
    problems: list[str]


def target(root: Path, policy_id: str, name: str) -> Path:
    """The file a draft is saved as: a plain `*.writ` name inside the policy's folder, else `InputError`."""
    folder = (root / policy_id).resolve()
    if not _NAME.fullmatch(name):
        raise InputError([InputProblem("file", "must be a file name ending in .writ (letters, digits, `.`, `_`, "
                                               "`-`), with no folder")])
    path = (folder / name).resolve()
    if path.parent != folder:
        raise InputError([InputProblem("file", "must stay inside the policy's folder")])
    return path


def _shown(diagnostics: list[Diagnostic], library: Path, shown_root: str, draft: Path, text: str) -> list[Shown]:
    """Diagnostics named by their path relative to the library (`policies/<id>/<file>`, as an author types it),
    with the source line and caret read from the draft or the file they point into."""
    sources = SourceMap()
    out = []
    base = str(library.resolve())
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        file = d.span.file
        if file.startswith(base + os.sep):
            shown = shown_root + "/" + Path(file[len(base) + 1:]).as_posix()
            if Path(file).resolve() == draft.resolve():
                sources.add(shown, text)
            else:
                try:
                    sources.add(shown, Path(file).read_text(encoding="utf-8"))
                except OSError:
                    pass
            d = dataclasses.replace(d, span=dataclasses.replace(d.span, file=shown))
        out.append(Shown(d.severity, d.code, d.message, d.span.line, d.span.column, render(d, sources)))
    return out


def diagnose(root: Path, policy_id: str, name: str, text: str) -> list[Shown]:
    """Errors in the draft as `writ check` finds them, else its `writ lint` warnings (as `writ lsp` gives them)."""
    path = target(root, policy_id, name)
    return _shown(analyse(path, text).diagnostics, root, root.name, path, text)


@contextmanager
def library_with(root: Path, policy_id: str, name: str, text: str) -> Iterator[Path]:
    """A copy of the policies folder with the draft written in place of (or beside) the file it names."""
    with tempfile.TemporaryDirectory(prefix="writ-draft-") as scratch:
        copy = Path(scratch) / root.name
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        (copy / policy_id / name).write_text(text, encoding="utf-8")
        yield copy


def check_copy(copy: Path, draft: Path, text: str) -> list[Shown]:
    """Every error in the copied library, each file named as in the real one."""
    from writ.dsl.loader import Library
    try:
        Library(copy).check_all()
    except PolicyError as exc:
        return _shown(exc.diagnostics, copy, copy.name, draft, text)
    return []


def run_tests(root: Path, policy_id: str, name: str, text: str) -> tuple[list[Shown], list[TestRow]]:
    """The policy's YAML tests against the draft; the errors instead when the library does not check with it."""
    from writ.testing import find_test_files, run
    with library_with(root, policy_id, name, text) as copy:
        errors = check_copy(copy, copy / policy_id / name, text)
        if errors:
            return errors, []
        files, _ = find_test_files([copy / policy_id])
        results = run(files)
        return [], [TestRow(r.file.name, r.name, r.passed, r.problems) for r in results]


def save(root: Path, policy_id: str, name: str, text: str) -> list[Shown]:
    """Write the draft if the library checks with it; else the errors, and nothing written."""
    path = target(root, policy_id, name)
    with library_with(root, policy_id, name, text) as copy:
        errors = check_copy(copy, copy / policy_id / name, text)
    if errors:
        return errors
    handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return []
