"""Command-line arguments in, a command's output and exit status out: the `writ` console script.

Exit status: 0 success; 1 the policy has errors or tests failed; 2 bad input
or usage (an unknown policy, invalid facts, an impossible date). Errors never
surface as Python tracebacks: every `WritError` is rendered for people (or as
the contract's JSON `{"errors": [...]}` with `--format json`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from writ.commands import add_log_options
from writ.dsl.errors import EvaluationError, InputError, NotFoundError, PolicyError, WritError, render_all


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="writ", description="Check, evaluate and explain policy rule files.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="find every error in policy files")
    c.add_argument("paths", nargs="+", type=Path)

    for name, helptext in (("eval", "evaluate a case"), ("explain", "evaluate a case and explain why")):
        e = sub.add_parser(name, help=helptext)
        e.add_argument("policy", help="a policy folder or id")
        e.add_argument("--input", "-i", required=True, help="facts as a JSON file, or - for standard input")
        e.add_argument("--on", type=_date, help="decide with the version in force on this date")
        e.add_argument("--version", dest="policy_version", help="use this version label")
        e.add_argument("--output", "-o", action="append", dest="outputs", help="only this output (repeatable)")
        e.add_argument("--format", "-f", choices=["text", "json", "md", "html"],
                       default="text" if name == "explain" else "json")
        e.add_argument("--full", action="store_true",
                       help="the audit view: the whole tree, every branch (default for explain: the summary)")
        if name == "explain":
            e.add_argument("--tree", action="store_true",
                           help="the tree of the branches that decided, without the summary's search for facts")
        if name == "eval":
            e.add_argument("--explain", choices=["none", "summary", "full"], default="summary",
                           help="with --format json: the explanation's detail (default: each output's deciding "
                                "step; full: the whole tree, as `writ explain --format json`)")
        e.add_argument("--record", metavar="DIR", help="also write a JSON decision record into DIR (see `writ replay`)")
        add_log_options(e, "the record", "DIR/.writ-log-key")
        e.add_argument("--source-text", metavar="FILE",
                       help="with --format html: embed this policy text, linking citations to its sections")

    s = sub.add_parser("schema", help="print the JSON Schema of a policy's input")
    s.add_argument("policy")
    s.add_argument("--version", dest="policy_version")

    g = sub.add_parser("graph", help="print the rule dependency graph")
    g.add_argument("policy")
    g.add_argument("--version", dest="policy_version")
    g.add_argument("--format", "-f", choices=["dot", "mermaid"], default="dot")

    t = sub.add_parser("test", help="run the YAML test cases beside policies")
    t.add_argument("paths", nargs="+", type=Path)
    t.add_argument("--verbose", "-v", action="store_true")

    v = sub.add_parser("versions", help="list a policy's versions")
    v.add_argument("policy")
    _register_extra_commands(sub)
    return p


def _register_extra_commands(sub: Any) -> None:
    """Subcommands in `writ/commands/*.py` (see that package's docstring)."""
    import importlib
    import pkgutil

    import writ.commands
    for info in sorted(pkgutil.iter_modules(writ.commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"writ.commands.{info.name}").register(sub)


class UsageError(Exception):
    """Command-line arguments argparse refused: reported like any other bad input (JSON with `--format json`)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str):
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own would print usage and exit on the spot
        raise UsageError(self, message)


BUG_HINT = ("this is a bug in writ, not a problem with your input; please report it with the command and the input "
            "that caused it (set WRIT_DEBUG=1 to see the traceback)")


def main(argv: list[str] | None = None) -> int:
    """Run one command; whatever happens, an exit status and a message, never a traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    json_errors = _format_asked(argv) == "json"
    try:
        args = _parser().parse_args(argv)
    except UsageError as exc:
        asked = _format_asked(argv)
        return _usage(asked == "json" or asked is None and exc.parser.get_default("format") == "json", exc)
    json_errors = getattr(args, "format", None) == "json"
    try:
        run = getattr(args, "run", None) or _COMMANDS[args.command]
        return int(run(args))
    except InputError as exc:
        if json_errors:
            print(json.dumps({"errors": [{"path": p.path, "message": p.message} for p in exc.problems]}, indent=2))
        else:
            print(f"error: the input has {len(exc.problems)} problem(s):", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem.path or '(root)'}: {problem.message}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(render_all(exc.diagnostics, color=sys.stderr.isatty()), file=sys.stderr)
        return 1
    except EvaluationError as exc:
        return _fail(json_errors, exc.code, str(exc), 1)
    except (NotFoundError, WritError) as exc:
        return _fail(json_errors, getattr(exc, "code", "not-found"), str(exc), 2)
    except BrokenPipeError:  # e.g. `writ graph ... | head`
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the machine, not writ: a full disk, a failing device, a file gone or not permitted
        where = f" `{exc.filename}`" if exc.filename else ""
        return _fail(json_errors, "io", f"cannot read or write{where}: {exc.strerror or exc}", IO_ERROR)
    except Exception as exc:  # the one guard: anything else is a bug, reported as one
        if os.environ.get("WRIT_DEBUG"):
            traceback.print_exc()
        return _fail(json_errors, "internal", f"internal error: {type(exc).__name__}: {exc}; {BUG_HINT}", INTERNAL)


INTERNAL = 70  # EX_SOFTWARE (sysexits.h): an internal software error
IO_ERROR = 74  # EX_IOERR (sysexits.h): reading or writing failed (a full disk), neither bad input nor a bug


def _format_asked(argv: list[str]) -> str | None:
    """The `--format` on the command line, read before (or despite) argparse: `--format json`, `--format=json`,
    `-f json`, `-fjson`; None when not given."""
    for k, arg in enumerate(argv):
        if arg in ("--format", "-f") and k + 1 < len(argv):
            return argv[k + 1]
        for prefix in ("--format=", "-f=", "-f"):
            if arg.startswith(prefix) and len(arg) > len(prefix):
                return arg[len(prefix):]
    return None


def _usage(json_errors: bool, exc: UsageError) -> int:
    """Arguments argparse refused: its usage line and message, or the contract's JSON errors."""
    option, _, message = exc.message.partition(": ") if exc.message.startswith("argument ") else ("", "", exc.message)
    option = option.removeprefix("argument ").split("/")[0]
    if json_errors:
        print(json.dumps({"errors": [{"path": option, "message": message, "code": "usage"}]}, indent=2))
    else:
        exc.parser.print_usage(sys.stderr)
        print(f"{exc.parser.prog}: error: {exc.message}", file=sys.stderr)
    return 2


def _fail(json_errors: bool, code: str, message: str, status: int) -> int:
    if json_errors:
        print(json.dumps({"errors": [{"path": "", "message": message, "code": code}]}, indent=2))
    else:
        print(f"error[{code}]: {message}", file=sys.stderr)
    return status


def _read_facts(source: str) -> Any:
    """The facts of `--input` (a file, or - for standard input), read by the one bounded JSON reader."""
    from writ.evaluator.jsonio import MAX_BYTES, read
    try:
        data: bytes | str
        if source == "-":
            stdin = getattr(sys.stdin, "buffer", sys.stdin)  # a replaced sys.stdin (tests) may be text
            data = stdin.read(MAX_BYTES + 1)
        else:
            with open(source, "rb") as stream:
                data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise NotFoundError(f"cannot read `{source}`: {exc.strerror}") from None
    return read(data)


def _load(policy: str) -> Any:
    from writ.api import load
    return load(policy)


def cmd_check(args: argparse.Namespace) -> int:
    from writ.dsl.loader import Library, find_policies
    named = find_policies(args.paths)
    _mention_skipped(named.skipped)
    checked = 0
    for root, ids in named.roots.items():
        library = Library(root)
        try:
            loaded = library.check_all(ids)
            from writ.api import Workspace
            if problems := Workspace(library=library).build(loaded):
                raise PolicyError(problems)
            checked += len(loaded)
        except PolicyError as exc:
            print(render_all(exc.diagnostics, library.sources, color=sys.stderr.isatty()), file=sys.stderr)
            count = len(exc.diagnostics)
            print(f"\n{count} error{'s' if count != 1 else ''} found", file=sys.stderr)
            return 1
    print(f"ok: {checked} policy version{'s' if checked != 1 else ''} checked, no errors")
    return 0


def _mention_skipped(skipped: list[Path]) -> None:
    """Paths a command was given that hold no policy (`policies/*` matches a README): said once, not an error."""
    for path in skipped:
        print(f"note: skipping `{path}`: not a policy folder or a .writ file", file=sys.stderr)


def cmd_eval(args: argparse.Namespace, explain: bool = False) -> int:
    """`writ eval` / `writ explain`: outputs (eval) or the explanation (explain) in the chosen format."""
    from writ.explain.words import output_line  # the explainer itself loaded only when a trace is asked for
    policy = _load(args.policy)
    facts = _read_facts(args.input)
    source_text = None
    if args.source_text:
        try:
            source_text = Path(args.source_text).read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFoundError(f"cannot read `{args.source_text}`: {exc.strerror}") from None
    traced = explain or args.format != "text" or bool(args.record)
    decision = policy.evaluate(facts, on=args.on, outputs=args.outputs, explain=traced, version=args.policy_version)
    tree = None
    if traced:
        from writ.explain.render import print_text, render_json, render_text
        from writ.explain.tree import explain as build
        tree = build(decision, policy.library.sources)
    if args.record:
        from writ.privacy import KEY_FILE_NAME
        from writ.records import make_record, record_folder, write_record
        folder = record_folder(args.record, "--record")
        privacy = _privacy(args.log_facts, args.log_key_file or folder / KEY_FILE_NAME)
        path = write_record(make_record(decision, facts, policy.library.sources, privacy), args.record, "--record")
        print(f"recorded: {path}", file=sys.stderr)
    if tree is not None and args.format == "json" and not explain and args.explain != "full":
        from writ.api import decision_json
        print(json.dumps(decision_json(decision, args.explain, policy.library.sources), indent=2, ensure_ascii=False))
    elif tree is not None and args.format == "json":
        print(json.dumps(render_json(tree), indent=2, ensure_ascii=False))
    elif tree is not None and args.format in ("md", "html"):
        summary = None
        if explain and not (args.full or args.tree):  # the document opens with the summary, then the tree
            from writ.explain.summary import summarize
            from writ.explain.summary_text import summary_lines
            summary = [summary_lines(s) for s in summarize(tree, decision)]
        if args.format == "md":
            from writ.explain.markdown import render_markdown
            print(render_markdown(tree, full=args.full, summary=summary), end="")
        else:
            from writ.explain.html import render_html
            print(render_html(tree, full=args.full, source_text=source_text, summary=summary), end="")
    elif tree is not None and explain and not (args.full or args.tree):
        from writ.explain.summary import summarize
        from writ.explain.summary_text import render_summary
        print(render_summary(tree, summarize(tree, decision)), end="")
    elif tree is not None and explain and sys.stdout.isatty():
        print_text(tree, full=args.full)
    elif tree is not None and explain:
        print(render_text(tree, full=args.full), end="")
    else:
        print(f"{decision.policy_id} version {decision.version}")
        for name, value in decision.outputs.items():
            print(f"  {output_line(name, value)}")
    return 0


def _privacy(mode: str, key_file: Path) -> Any:
    """What logs and records keep of the facts; masking loads (or creates, saying so) its key."""
    from writ.privacy import Privacy, load_key
    if mode != "masked":
        return Privacy(mode)  # type: ignore[arg-type]
    return Privacy("masked", load_key(key_file, lambda note: print(f"note: {note}", file=sys.stderr)))


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(_load(args.policy).schema(args.policy_version), indent=2))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    program = _load(args.policy).version(args.policy_version)
    print(program.compiled.to_mermaid() if args.format == "mermaid" else program.compiled.to_dot())
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from writ.testing import find_test_files, run
    files, skipped = find_test_files(args.paths)
    _mention_skipped(skipped)
    results = run(files)
    failed = [r for r in results if not r.passed]
    for r in results:
        if not r.passed or args.verbose:
            print(f"{'PASS' if r.passed else 'FAIL'} {r.file}: {r.name}")
            for problem in r.problems:
                print(f"    {problem}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_versions(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    for v in policy.versions():
        until = f" until {v.until}" if v.until else ""
        print(f"{v.version:<14} effective {v.effective}{until}  hash {v.content_hash}  {v.path}")
    return 0


_COMMANDS = {
    "check": cmd_check, "eval": cmd_eval, "explain": lambda a: cmd_eval(a, explain=True),
    "schema": cmd_schema, "graph": cmd_graph, "test": cmd_test, "versions": cmd_versions,
}

if __name__ == "__main__":
    sys.exit(main())
