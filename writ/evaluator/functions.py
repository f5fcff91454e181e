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

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from writ.dsl import ir
from writ.evaluator.codegen import Generated, Mode, _Gen, _indent
from writ.evaluator.naming import Names, rename
from writ.evaluator.readers import ReaderParts

Reader = Callable[[Mapping[str, str]], ReaderParts]  # the local each input's key is to be read into -> the reader
NO_USED: Mapping[str, Any] = MappingProxyType({})  # the used policies' traces of a run that uses none



def generate(program: ir.Program, outputs: tuple[str, ...], mode: Mode, constants: Mapping[str, Any],
             needed: list[str], reader: Reader | None = None, ending: str | None = None,
             changed: str | None = None) -> Generated:
    """Source of `_outputs(v, _on)` computing `outputs` (and `_decide(f, _on)` when `reader` is given, and
    `_rerun(x, v, _on)` when `changed` is).

    `needed` are the definitions to compute, in dependency order; `constants`
    holds the constants already computed (pass `{}` to generate the code that
    computes them). `reader` makes the reader's lines, given the local each
    input's key is to be read into. `ending`, for a traced `_decide`, is what
    its last lines do with the results instead of returning them: a template
    of lines with `{facts}`, `{outputs}`, `{values}`, `{flags}`,
    `{definitions}` and `{used}` standing for the code of each. `changed`, a
    fact's key: `_rerun(x, v, _on)` is the same run as `_outputs` of the facts
    `v` with that fact's value `x` instead (a counterfactual's re-run: the rest
    of the facts read from the case's own, with no copy of them made per run),
    returning, when traced, the outputs and recorded values only (what
    confirming a change reads; the flags, definitions and used policies'
    traces are `_outputs`'s, for the rare view that needs a whole `Trace`).
    """
    names = rename(program)
    gen = _Gen(program, names, mode, constants)
    body: list[str] = []
    by_name = {d.name: d for d in program.definitions}
    for name in needed:
        body += gen.definition(by_name[name])
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
        unset = [k for k in slots if k in gen.maybe]
        if unset:
            prologue.append("    " + " = ".join(f"_t{k}" for k in unset) + " = _UNSET")
        if regions:
            prologue.append("    " + " = ".join(f"_r{k}" for k in regions) + " = True")
        trace = "".join(f"_t{k}, " for k in slots)
        flags = "".join(f"_r{k}, " for k in regions)
        kept = needed if mode.watch is None else [n for n in needed if n in mode.watch]
        defs = ", ".join(f"{n!r}: {names.definition(n)}" for n in kept)
        pieces.update(values=f"({trace})", flags=f"({flags})", definitions=f"{{{defs}}}",
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
    parts = reader(names.inputs) if reader is not None else None
    if parts is not None:
        last = ending.format(facts="v", **pieces).split("\n") if ending and mode.traced else [f"return v, ({returned})"]
        source += _fused(parts, names, list(gen.inputs), prologue + used_lines + body_lines, _indent(last))
    return Generated("\n".join(source), {**gen.globals, **(parts.globals if parts else {})}, slots, regions,
                     gen.aliases, tuple(needed), {a: tuple(n) for a, n in gen.used.items()})


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
