"""A lowered program's definitions in, the Python source of a policy version's functions out.

codegen.py writes each definition's lines; this module puts them into
functions. The source defines `_outputs(v, _on)` (converted facts keyed by
path in) and, given the input model's reader (evaluator/readers.py),
`_decide(f, _on)`: the reader's lines and the rules' in one function, each
fact read straight into the local the rules read it from, with no copy
between. Plain results are `{output: value}`; traced results are that, the
recorded node values, the region flags, `{definition: value}` and the used
policies' traces, in that order. `_decide` returns the converted values and
the results, or in traced mode does with them what the caller's `ending`
says (the engine makes the Decision there, with no call between).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from writ.dsl import ir
from writ.evaluator.codegen import UNSET, Generated, Mode, _Gen, _indent
from writ.evaluator.naming import Names, rename
from writ.evaluator.readers import ReaderParts

Reader = Callable[[Mapping[str, str]], ReaderParts]  # the local each input's key is to be read into -> the reader
NO_USED: Mapping[str, Any] = MappingProxyType({})  # the used policies' traces of a run that uses none



def generate(program: ir.Program, outputs: tuple[str, ...], mode: Mode, constants: Mapping[str, Any],
             needed: list[str], reader: Reader | None = None, ending: str | None = None,
             changed: str | None = None) -> Generated:
    """Source of `_outputs(v, _on)` computing `outputs` (and `_decide(f, _on)` when `reader` is given, and
    `_rerun(x, v, _on)` and `_rerun_from(x, v, D, _on)` when `changed` is).

    `needed` are the definitions to compute, in dependency order; `constants`
    holds the constants already computed (pass `{}` to generate the code that
    computes them), each read as a global of the functions, not copied into a local per run. `reader` makes the reader's lines, given the local each
    input's key is to be read into. `ending`, for a traced `_decide`, is what
    its last lines do with the results instead of returning them: a template
    of lines with `{facts}`, `{outputs}`, `{values}`, `{flags}`,
    `{definitions}` and `{used}` standing for the code of each. `changed`, a
    fact's key: `_rerun(x, v, _on)` is the same run as `_outputs` of the facts
    `v` with that fact's value `x` instead (a counterfactual's re-run: the rest
    of the facts read from the case's own, with no copy of them made per run),
    returning, when traced, the outputs and recorded values only (what
    confirming a change reads; the flags, definitions and used policies'
    traces are `_outputs`'s, for the rare view that needs a whole `Trace`). `_rerun_from` is that run computing
    only the definitions the change may affect, given the others as a run of the case's own facts recorded them.
    """
    names = rename(program)
    gen = _Gen(program, names, mode, constants)
    body: list[str] = []
    by_name = {d.name: d for d in program.definitions}
    chunks: dict[str, _Chunk] = {}  # each definition's lines and the slots they set, for `_rerun_from`
    for name in needed:
        if name in constants:  # read as the function's global: no local copied from it per run
            names.definitions[name] = gen.hoist(constants[name], "C")
            chunks[name] = _Chunk([], ())
            continue
        first = len(gen.slots)
        lines = gen.definition(by_name[name])
        chunks[name] = _Chunk(lines, tuple(gen.slots)[first:])
        body += lines
    output_exprs = dict(program.outputs)
    results = ", ".join(f"{n!r}: {gen.expr(output_exprs[n]) if n in output_exprs else names.definition(n)}"
                        for n in outputs)
    used_lines = []
    for alias, read in sorted(gen.used.items()):
        targets = "".join(names.used_name(alias, n) + ", " for n in read)
        if mode.traced:
            call = "_used_probe" if mode.probe else "_used_traced"
            used_lines.append(f"    ({targets}_ut[{alias!r}],) = {call}({alias!r}, {tuple(read)!r}, v, _on)")
        else:
            used_lines.append(f"    ({targets}) = _used({alias!r}, {tuple(read)!r}, v, _on)")
    slots, regions = tuple(gen.slots), tuple(gen.regions)
    prologue: list[str] = []
    pieces: dict[str, str] = {"outputs": f"{{{results}}}"}
    if mode.traced:
        if gen.used:  # else every run shares one empty, read-only table
            prologue.append("    _ut = {}")
        prologue += _all_set(gen, [f"_t{k}" for k in slots if k in gen.maybe], "_UNSET", UNSET)
        prologue += _all_set(gen, [f"_r{k}" for k in regions], "True", True)
        kept = needed if mode.watch is None else [n for n in needed if n in mode.watch]
        defs = ", ".join(f"{n!r}: {names.definition(n)}" for n in kept)
        pieces.update(values=_tuple_display([f"_t{k}" for k in slots]),
                      flags=_tuple_display([f"_r{k}" for k in regions]), definitions=f"{{{defs}}}",
                      used="_ut" if gen.used else "_NO_USED")
        gen.globals["_NO_USED"] = NO_USED
    returned = ", ".join(pieces.values())
    read_lines = [f"    {names.input(p)} = v[{p!r}]" for p in gen.inputs]
    body_lines = ["    " + line for line in body]
    source = ["def _outputs(v, _on):", *prologue, *read_lines, *used_lines, *body_lines, f"    return {returned}", ""]
    if changed is not None:  # traced: the outputs and the recorded values alone, what a confirmation reads
        rerun_returns = f"{pieces['outputs']}, {pieces['values']}" if mode.traced else returned
        source += _rerun(changed, names, list(gen.inputs), bool(gen.used),
                         [*prologue, *used_lines, *body_lines, f"    return {rerun_returns}"])
        source += _rerun_from(program, outputs, changed, names, gen, chunks, used_lines, rerun_returns)
    parts = reader(names.inputs) if reader is not None else None
    if parts is not None:
        last = ending.format(facts="v", **pieces).split("\n") if ending and mode.traced else [f"return v, ({returned})"]
        source += _fused(parts, names, list(gen.inputs), prologue + used_lines + body_lines, _indent(last))
    return Generated("\n".join(source), {**gen.globals, **(parts.globals if parts else {})}, slots, regions,
                     gen.aliases, tuple(needed), {a: tuple(n) for a, n in gen.used.items()})


def _tuple_display(items: list[str]) -> str:
    """A tuple display of `items` that compiles to tuple builds alone: CPython builds a display of more than 30
    items through a list, an append each (`STACK_USE_GUIDELINE`), so a longer one is written as concatenated
    tuples of at most 30."""
    chunks = [items[i:i + 30] for i in range(0, len(items), 30)] or [[]]
    return " + ".join("(" + "".join(f"{x}, " for x in chunk) + ")" for chunk in chunks)


def _all_set(gen: _Gen, targets: list[str], code: str, value: Any) -> list[str]:
    """The line giving every local of `targets` the value `code` stands for: a tuple of as many, unpacked (one
    store each) rather than a chain of assignments (a copy and a store each), when there are more than two."""
    if len(targets) <= 2:
        return ["    " + " = ".join([*targets, code])] if targets else []
    name = f"_{code.strip('_').upper()}S{len(targets)}"
    gen.globals[name] = (value,) * len(targets)
    return [f"    {', '.join(targets)} = {name}"]


def _rerun(changed: str, names: Names, inputs: list[str], used: bool, rules: list[str]) -> list[str]:
    """`_rerun(x, v, _on)`: `_outputs`'s lines, with the fact `changed` read from `x` and the others from `v`. The
    used policies are given the facts too, so when there are any, `v` is first the facts with the change made."""
    head = [f"    v = {{**v, {changed!r}: x}}"] if used else []
    reads = [f"    {names.input(p)} = {'x' if p == changed else f'v[{p!r}]'}" for p in inputs]
    return ["def _rerun(x, v, _on):", *head, *reads, *rules, ""]


def _fused(reader: ReaderParts, names: Names, inputs: list[str], rules: list[str], ending: list[str]) -> list[str]:
    """`_decide(f, _on)`: the reader's lines, which leave each input in the local the rules read it from (a fact
    the reader does not give is taken from `v`), then the rules."""
    local = dict(reader.results)
    values = ", ".join(f"{key!r}: {var}" for key, var in reader.results)
    taken = [f"    {names.input(p)} = {local.get(p, f'v[{p!r}]')}" for p in inputs if local.get(p) != names.input(p)]
    return ["def _decide(f, _on):", *reader.lines, f"    v = {{{values}}}", *taken, *rules, *ending, ""]


def _kept_branches(d: ir.Definition, changed: str, computed: set[str]) -> ir.Definition | None:
    """`d` (a definition the change of `changed` may affect) with each branch of its conditional expression the
    change cannot reach read as the definition itself, which `_rerun_from` first sets to the traced run's value:
    a branch taken under conditions the change cannot move was taken in that run too, and a branch that reads
    nothing the change moves computed that run's value (so `age_limit = (received - 14 days) if birth is missing
    else (birth + 18 years - 14 days)` re-runs no year arithmetic when `received` changes). None when no branch is
    kept that way (or `d` has exceptions, or is not an expression)."""
    if d.exceptions or not isinstance(d.body, ir.ExprBody):
        return None
    itself = ir.DefRef(d.name, d.body.expr.type)

    def moves(e: ir.Expr) -> bool:
        return any(isinstance(x, ir.UsedRef) or (isinstance(x, ir.Input) and x.path == changed)
                   or (isinstance(x, ir.DefRef) and x.name in computed) for x in ir.reads(e))

    def kept(e: ir.Expr) -> ir.Expr:
        if not isinstance(e, ir.If) or moves(e.cond):
            return e
        then = itself if not moves(e.then) else kept(e.then)
        other = itself if not moves(e.otherwise) else kept(e.otherwise)
        return e if then is e.then and other is e.otherwise else dataclasses.replace(e, then=then, otherwise=other)

    expr = kept(d.body.expr)
    return None if expr is d.body.expr else dataclasses.replace(d, body=ir.ExprBody(expr))


class _Chunk(NamedTuple):
    """One definition's generated lines, with the slots (nids) those lines set."""

    lines: list[str]
    slots: tuple[int, ...]


def affected(program: ir.Program, needed: list[str], changed: str, constants: Mapping[str, Any]) -> set[str]:
    """The definitions of `needed` (in dependency order) whose value may differ when the fact `changed` does: those
    reading it, or a used policy (given the changed facts too), or an affected definition. The others compute
    exactly what they did in a run of the case's own facts."""
    by_name = {d.name: d for d in program.definitions}
    found: set[str] = set()
    for name in needed:
        if name in constants:
            continue
        for top in ir.body_exprs(by_name[name]):
            if any(isinstance(e, ir.UsedRef) or (isinstance(e, ir.Input) and e.path == changed)
                   or (isinstance(e, ir.DefRef) and e.name in found) for e in ir.reads(top)):
                found.add(name)
                break
    return found


def _rerun_from(program: ir.Program, outputs: tuple[str, ...], changed: str, names: Names, gen: _Gen,
                chunks: dict[str, _Chunk], used_lines: list[str], returns: str) -> list[str]:
    """`_rerun_from(x, v, D, _on)`: `_rerun(x, v, _on)` given also `D`, the definitions a run of the case's own
    facts recorded (the traced run being explained: the same generated code on the same facts), so that only the
    definitions the change may affect are computed again, the others read from `D` where something computed reads
    them. What the skipped definitions would record stays unset: no confirmation of a change of `changed` reads it
    (a condition that cannot read the fact is not one the change is proposed for), and a reader finding a slot
    unset re-runs the condition's definition traced, as for any condition the probe does not record."""
    computed = affected(program, list(chunks), changed, gen.constants)
    by_name, output_exprs = {d.name: d for d in program.definitions}, dict(program.outputs)
    tops = [output_exprs[n] for n in outputs if n in output_exprs]
    tops += [e for name in computed for e in ir.body_exprs(by_name[name])]
    read = [e for top in tops for e in ir.reads(top)]
    # what the computed lines and the results read
    taken = {e.name for e in read if isinstance(e, ir.DefRef)} | {n for n in outputs if n not in output_exprs}
    inputs = {e.path for e in read if isinstance(e, ir.Input)}
    lines: list[str] = []
    unset = [k for k in gen.slots if k in gen.maybe]  # as `_outputs`: the slots a path may leave unset
    for name, chunk in chunks.items():
        kept = _kept_branches(by_name[name], changed, computed) if name in computed else None
        if kept is not None:  # the definition's value from `D` where the change cannot have moved it
            lines += [f"{names.definition(name)} = D[{name!r}]", *gen.definition(kept)]
            unset += [k for k in chunk.slots if k not in gen.maybe]
        elif name in computed:
            lines += chunk.lines
        else:
            unset += [k for k in chunk.slots if k not in gen.maybe]
            if name in taken and name not in gen.constants:
                lines.append(f"{names.definition(name)} = D[{name!r}]")
    # no region flags set first: the rerun does not return them, and each is set just before it is read
    prologue = ["    _ut = {}"] if gen.used and gen.mode.traced else []
    prologue += _all_set(gen, [f"_t{k}" for k in unset], "_UNSET", UNSET)
    head = [f"    v = {{**v, {changed!r}: x}}"] if gen.used else []
    reads = [f"    {names.input(p)} = {'x' if p == changed else f'v[{p!r}]'}" for p in gen.inputs
             if p in inputs]
    return ["def _rerun_from(x, v, D, _on):", *head, *prologue, *reads, *used_lines,
            *_indent(lines), f"    return {returns}", ""]
