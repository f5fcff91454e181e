"""A `ResolvedPolicy` (and its checked used policies) in, a `CheckedPolicy` out: every name resolved, every expression typed, `missing` handled."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import assert_never

from writ.dsl import ast
from writ.dsl.analysis import analyse_exceptions, analyse_table
from writ.dsl.checked import CheckedPolicy
from writ.dsl.citations import parse_citation
from writ.dsl.constraints import check_problems, default_problems, guarded, range_problems, typed_bounds
from writ.dsl.errors import PolicyError, did_you_mean
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.typecheck import ExprTyper
from writ.dsl.typerules import Env, RefTarget, cond_facts, fits, present_if_false, present_if_true, walk
from writ.dsl.types import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    ERROR,
    INT,
    TEXT,
    EnumT,
    ErrorT,
    ListT,
    OptionalT,
    RecordField,
    RecordT,
    Type,
    strip_optional,
)

__all__ = ["CheckedPolicy", "RefTarget", "check"]

CONVENTIONS = {"months": ("clamp", "overflow"), "leap_day": ("feb28", "mar1")}
_PRIMS: dict[str, Type] = {"bool": BOOL, "int": INT, "decimal": DECIMAL, "text": TEXT, "date": DATE,
                           "duration": DURATION}


def check(policy: ResolvedPolicy, used: Mapping[str, CheckedPolicy] | None = None) -> CheckedPolicy:
    """Check `policy` (with its used policies, by alias); raise `PolicyError` listing every error found."""
    checker = _Checker(policy, dict(used or {}))
    return checker.run()


class _Checker(ExprTyper):
    def __init__(self, policy: ResolvedPolicy, used: dict[str, CheckedPolicy]):
        super().__init__(policy, used)
        self.definition_types: dict[str, Type] = {}
        self.busy: set[str] = set()
        self.named_types: dict[str, Type] = {}
        self.conflicts: list[tuple[str, str]] = []

    def run(self) -> CheckedPolicy:
        self.check_header()
        self.check_declarations()
        self.check_inputs()
        for name in self.policy.definitions:
            self.definition_type(name)
        self.check_exceptions()
        self.check_outputs()
        for citation in _citations(self.policy):
            if not citation.text.strip():
                self.error("citation", "this citation is empty", citation.span,
                           "write the source between the brackets, e.g. `[§3.3.1]`, or remove them")
        self.check_out_of_scope()
        result = CheckedPolicy(self.policy, self.input_types, self.definition_types, self.expr_types,
                               self.ref_targets, dict(self.used), self.warnings, self.conflicts)
        if self.errors:
            raise PolicyError(self.errors)
        return result

    def check_out_of_scope(self) -> None:
        """`out of scope` names clauses of the policy's own source document, each part of its citation one; whether
        the document has them is lint's and coverage's check, against the source text."""
        for decl in self.policy.out_of_scope.values():
            if not decl.reason.strip():
                self.error("out-of-scope", "say why the clause is out of scope", decl.span,
                           'write the reason in quotes after the citation, e.g. `out of scope [§7.1] "..."`')
            parts = parse_citation(decl.citation.text)
            if not parts:
                self.error("citation", "this citation is empty", decl.citation.span,
                           "name the clause that is not encoded, e.g. `[§7.1]`")
            for part in parts:
                if part.key is None:
                    what = "a whole appendix" if part.document else "another instrument"
                    self.error("out-of-scope", f"`{part.text}` names {what}, not a clause of the policy's source "
                               "document", decl.citation.span,
                               "name one section, headed part or paragraph: `§7.1`, `App C 9.1 Pensions`, `¶8`")

    # -- header, enums, records, inputs
    def check_header(self) -> None:
        h = self.policy.header
        required = {"title": (h.title, 'title "..."'), "version": (h.version, 'version "2024-04-06"'),
                    "effective": (h.effective, "effective 2024-04-06"), "source": (h.source, 'source "..."')}
        for key, (value, example) in required.items():
            if value is None:
                self.error("header", f"the header has no `{key}`", h.span, f"add a line such as `{example}`")
        for conv in self.policy.conventions.values():
            if conv.name not in CONVENTIONS:
                self.error("header", f"unknown convention `{conv.name}`", conv.span,
                           did_you_mean(conv.name, CONVENTIONS) or "the conventions are `months` and `leap_day`")
            elif conv.value not in CONVENTIONS[conv.name]:
                choices = " or ".join(f"`{v}`" for v in CONVENTIONS[conv.name])
                self.error("header", f"`convention {conv.name}` must be {choices}, not `{conv.value}`", conv.span,
                           did_you_mean(conv.value, CONVENTIONS[conv.name]))

    def check_decided_by(self) -> None:
        ref = self.policy.header.decided_by
        if ref is None:
            return
        dates = [n for n, t in self.input_types.items() if strip_optional(t) == DATE]
        t = self.input_types.get(ref.name)
        if t is None:
            self.error("name", f"`decided by` names `{ref.name}`, which is not an input field", ref.span,
                       did_you_mean(ref.name, dates))
            t = ERROR
        elif strip_optional(t) != DATE:
            self.error("type", f"`decided by` needs a date input field, but `{ref.name}` is `{t}`", ref.span)
        else:
            self.ref_targets[id(ref)] = RefTarget("input", ref.name)
        self.expr_types[id(ref)] = t

    def check_declarations(self) -> None:
        for enum in self.policy.enums.values():
            for i, value in enumerate(enum.values):
                if value in enum.values[:i]:
                    self.error("name", f"`{value}` appears twice in enum `{enum.name}`", enum.name_span)
        for record in self.policy.records.values():
            self.type_of_named(record.name, record.name_span)

    def resolve_type(self, texpr: ast.TypeExpr) -> Type:
        match texpr:
            case ast.PrimType(name=name):
                return _PRIMS[name]
            case ast.EnumType(values=values):
                return EnumT(None, values)
            case ast.ListType(item=item):
                return ListT(self.resolve_type(item))
            case ast.NamedType(name=name):
                return self.type_of_named(name, texpr.span)
            case _:
                assert_never(texpr)

    def type_of_named(self, name: str, span: ast.Span) -> Type:
        if name in self.named_types:
            return self.named_types[name]
        if name in self.policy.enums:
            self.named_types[name] = EnumT(name, self.policy.enums[name].values)
        elif name in self.policy.records:
            self.named_types[name] = ERROR  # guards a record that contains itself
            fields = self.fields(self.policy.records[name].fields, f"record `{name}`")
            self.named_types[name] = RecordT(name, tuple(RecordField(f.name, t, f.optional and f.default is None,
                                                                     f.description) for f, t in fields))
        else:
            self.error("name", f"type `{name}` is not defined", span,
                       did_you_mean(name, [*self.policy.enums, *self.policy.records, *_PRIMS]))
            return ERROR
        return self.named_types[name]

    def fields(self, fields: tuple[ast.Field, ...], owner: str) -> list[tuple[ast.Field, Type]]:
        seen: set[str] = set()
        out = []
        for f in fields:
            if f.name in seen:
                self.error("name", f"field `{f.name}` is declared twice in {owner}", f.span)
            seen.add(f.name)
            t = self.resolve_type(f.type)
            for ranged in typed_bounds(f.type):
                self.errors.extend(range_problems(ranged))
            if f.default is not None:
                self.check_default(f, t)
            self.check_change(f, t)
            out.append((f, t))
        return out

    def check_change(self, f: ast.Field, t: Type) -> None:
        if f.change in ("increase", "decrease") and strip_optional(t) not in (INT, DECIMAL, DATE, DURATION):
            self.error("type", f"`can {f.change}` needs a number, a date or a duration; `{f.name}` is `{t}`", f.span,
                       "write `can change` or `fixed`")

    def check_default(self, f: ast.Field, t: Type) -> None:
        d = f.default
        assert d is not None
        dt = self.expr(d, Env(constant=f.name), t)
        if not all(isinstance(x, (ast.IntLit, ast.DecimalLit, ast.TextLit, ast.DateLit, ast.BoolLit,
                                  ast.DurationLit, ast.ListLit)) for x in walk(d)):
            self.error("type", f"the default of `{f.name}` must be a literal value", d.span)
        elif not fits(dt, t):
            self.error("type", f"the default of `{f.name}` is `{dt}` but the field is `{t}`", d.span)
        elif not any(range_problems(r) for r in typed_bounds(f.type)):
            self.errors.extend(default_problems(f))

    def check_inputs(self) -> None:
        for group in self.policy.inputs.values():
            for f, t in self.fields(group.fields, f"input `{group.name}`" if group.name else "the top-level input"):
                may_miss = (f.optional or group.optional) and f.default is None and not isinstance(t, ErrorT)
                path = f"{group.name}.{f.name}" if group.name else f.name  # unnamed block: top-level fields
                self.input_types[path] = OptionalT(t) if may_miss else t
        self.check_decided_by()
        for group in self.policy.inputs.values():
            for check in group.checks:
                self.input_check(check)

    def input_check(self, check: ast.Check) -> None:
        """Type a check like a rule's condition, the fields it does not test for absence known present."""
        self.cond(check.expr, Env(present=frozenset(guarded(check.expr))))
        self.errors.extend(check_problems(check, self.expr_types, self.ref_targets))

    # -- definitions
    def definition_type(self, name: str) -> Type:
        if name in self.definition_types:
            return self.definition_types[name]
        decl = self.policy.definitions[name]
        declared = None if isinstance(decl, ast.RuleDecl) or decl.type is None else self.resolve_type(decl.type)
        if name in self.busy:  # a cycle: the compiler reports it
            return BOOL if isinstance(decl, ast.RuleDecl) else declared or ERROR
        self.busy.add(name)
        for ranged in typed_bounds(decl.type) if not isinstance(decl, ast.RuleDecl) and decl.type else ():
            self.error("range", "only input and record fields can have a range", ranged.bounds[0].span,
                       "drop the bound: a definition's value is what its rules make it")
        t = self.check_definition(decl, declared)
        self.busy.discard(name)
        self.definition_types[name] = t
        return t

    def check_definition(self, decl: ast.Definition, declared: Type | None) -> Type:
        env = Env()
        match decl:
            case ast.ConstantDecl():
                t = self.expr(decl.value, Env(constant=decl.name), declared)
                if declared is not None:
                    self.check_fits(decl.value, t, declared, "constant")
                return declared or t
            case ast.RuleDecl():
                self.rule_condition(decl.body, env)
                return BOOL
            case ast.ValueDecl():
                t = self.expr(decl.body, env, declared)
                if declared is not None:
                    self.check_fits(decl.body, t, declared, "value")
                return declared or t
            case ast.DecideDecl():
                results = []
                for case in decl.cases:
                    self.cond(case.condition, env)
                    results.append((case.result, env.knowing(present_if_true(case.condition))))
                    env = env.knowing(present_if_false(case.condition))
                results.append((decl.otherwise.result, env))
                return self.unify_results(results, declared, "result")
            case ast.TableDecl():
                return self.check_table(decl, declared)
            case _:
                assert_never(decl)

    def rule_condition(self, cond: ast.Cond, env: Env) -> None:
        match cond:
            case ast.CondExpr():
                self.cond(cond.expr, env)
            case ast.CondBlock():
                for item in cond.items:
                    self.rule_condition(item, env)
                    env = env.knowing(cond_facts(item, cond.kind == "all"))
            case _:
                assert_never(cond)

    def check_table(self, decl: ast.TableDecl, declared: Type | None) -> Type:
        if decl.hit not in ("unique", "first"):
            self.error("table", f"`hit {decl.hit}` is not a hit policy", decl.name_span,
                       did_you_mean(decl.hit, ["unique", "first"]) or "write `hit unique` or `hit first`")
        before = len(self.errors)
        env = Env()
        columns = [self.need(g, env) for g in decl.given]
        for row in decl.rows:
            for cell, column in zip(row.cells, columns, strict=False):
                for test in cell.tests:
                    self.check_test(test, column, env)
        results = [(row.result, env) for row in decl.rows]
        if decl.otherwise is not None:
            results.append((decl.otherwise.result, env))
        t = self.unify_results(results, declared, "result")
        if len(self.errors) == before:
            self.errors.extend(analyse_table(decl, columns))
        return t

    def check_test(self, test: ast.Test, column: Type, env: Env) -> None:
        match test.kind:
            case "compare" | "equal":
                t = self.need(test.value, env, column)
                self.relate(test.op, column, t, test.span, (test.value,))
            case "in" | "not_in":
                t = self.need(test.value, env, ListT(column) if not isinstance(column, ErrorT) else None)
                self.member_types(column, t, test.value.span, test.span)

    # -- exceptions and outputs
    def check_exceptions(self) -> None:
        for exc in self.policy.exceptions.values():
            target: Type = ERROR
            decl = self.policy.definitions.get(exc.target)
            if decl is not None:
                target = self.definition_type(exc.target)
                if isinstance(decl, ast.ConstantDecl):
                    self.error("exception", f"`{exc.target}` is a constant; exceptions cannot change it",
                               exc.target_span, "make it a `value` instead")
            elif exc.target in self.policy.all_names() or exc.target in self.input_types:
                self.error("exception", f"`{exc.target}` is not a definition; an exception can only change a "
                           "rule, value, decision or table", exc.target_span)
            else:
                self.error("name", f"`{exc.target}` is not defined", exc.target_span,
                           did_you_mean(exc.target, self.policy.definitions))
            clause = exc.clause
            self.cond(clause.condition, Env())
            env = Env().knowing(present_if_true(clause.condition))
            t = self.expr(clause.result, env, target)
            self.check_fits(clause.result, t, target, f"exception to `{exc.target}`")
        diagnostics, self.conflicts = analyse_exceptions(self.policy, self.expr_types, self.ref_targets)
        self.errors.extend(diagnostics)

    def check_outputs(self) -> None:
        h = self.policy.header
        if not self.policy.outputs:
            self.error("output", "the policy has no `outputs`", h.span,
                       "add a line `outputs: a, b` naming what the policy answers")
        seen: set[str] = set()
        for ref in self.policy.outputs:
            if ref.name in seen:
                self.error("output", f"`{ref.name}` is listed twice in `outputs`", ref.span)
            seen.add(ref.name)
            if ref.name in self.policy.exceptions or ref.name in self.policy.enums or ref.name in self.policy.records:
                self.error("output", f"`{ref.name}` is not a definition or an input field", ref.span)
                self.expr_types[id(ref)] = ERROR
            else:
                self.expr(ref, Env())


def _citations(policy: ResolvedPolicy) -> Iterator[ast.Citation]:
    def cond(c: ast.Cond) -> Iterator[ast.Citation | None]:
        yield c.citation
        if isinstance(c, ast.CondBlock):
            for item in c.items:
                yield from cond(item)

    found: list[ast.Citation | None] = [e.citation for e in policy.enums.values()]
    for decl in policy.definitions.values():
        found.append(decl.citation)
        match decl:
            case ast.RuleDecl():
                found.extend(cond(decl.body))
            case ast.DecideDecl():
                found.extend([c.citation for c in decl.cases] + [decl.otherwise.citation])
            case ast.TableDecl():
                found.extend(r.citation for r in decl.rows)
                found.append(decl.otherwise.citation if decl.otherwise else None)
            case ast.ConstantDecl() | ast.ValueDecl():
                pass
            case _:
                assert_never(decl)
    for exc in policy.exceptions.values():
        found.extend([exc.citation, exc.clause.citation])
    yield from (c for c in found if c is not None)
