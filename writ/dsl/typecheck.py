"""Expression typing for the checker: an `ast.Expr` and its scope in, its semantic `Type` out (with names resolved and `missing` narrowed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import assert_never

from writ.dsl import ast
from writ.dsl.checked import CheckedPolicy
from writ.dsl.errors import Diagnostic, did_you_mean
from writ.dsl.resolve import ResolvedPolicy
from writ.dsl.typerules import (
    Env,
    RefTarget,
    arith_result,
    call_type,
    comparable,
    describe_expr,
    fits,
    present_if_false,
    present_if_true,
    unify,
)
from writ.dsl.types import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    ERROR,
    INT,
    MISSING,
    NOTHING,
    TEXT,
    EnumT,
    ErrorT,
    ListT,
    MissingT,
    NothingT,
    OptionalT,
    RecordT,
    Type,
    is_numeric,
    optional,
    strip_optional,
)

_LITERAL_TYPES: dict[type, Type] = {ast.IntLit: INT, ast.DecimalLit: DECIMAL, ast.DateLit: DATE, ast.BoolLit: BOOL,
                                    ast.MissingLit: MISSING, ast.DurationLit: DURATION}
MISSING_HELP = "test `{0} is missing` first, or give the field a default"


# ------------------------------------------------------------------ the typer


@dataclass
class ExprTyper:
    """Types expressions, resolving names and recording both; subclasses supply definition types."""

    policy: ResolvedPolicy
    used: Mapping[str, CheckedPolicy]
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    input_types: dict[str, Type] = field(default_factory=dict)
    expr_types: dict[int, Type] = field(default_factory=dict)
    ref_targets: dict[int, RefTarget] = field(default_factory=dict)

    def definition_type(self, name: str) -> Type:
        raise NotImplementedError

    def error(self, code: str, message: str, span: ast.Span, help: str | None = None) -> None:
        self.errors.append(Diagnostic(code, message, span, help))

    # -- entry points
    def expr(self, e: ast.Expr, env: Env, hint: Type | None = None) -> Type:
        t = self._expr(e, env, hint)
        self.expr_types[id(e)] = t
        return t

    def need(self, e: ast.Expr, env: Env, hint: Type | None = None) -> Type:
        """Type `e`, which must not be missing here."""
        t = self.expr(e, env, hint)
        if isinstance(t, MissingT):
            self.error("missing", "`missing` is not allowed here", e.span)
            return ERROR
        if isinstance(t, OptionalT):
            name = e.name if isinstance(e, ast.Ref) else "..."
            self.error("missing", f"{describe_expr(e)} may be missing", e.span, MISSING_HELP.format(name))
            return t.inner
        return t

    def expect(self, e: ast.Expr, env: Env, want: Type) -> Type:
        t = self.need(e, env, want)
        if not fits(t, want):
            self.error("type", f"expected `{want}`, found `{t}`", e.span)
            return ERROR
        return t

    def cond(self, e: ast.Expr, env: Env) -> Type:
        return self.expect(e, env, BOOL)

    def unify_results(self, items: list[tuple[ast.Expr, Env]], declared: Type | None, what: str,
                      hint: Type | None = None) -> Type:
        """The type of several alternative results (decision, table, `if`), checked against `declared` if given."""
        if declared is not None:
            for e, env in items:
                self.check_fits(e, self.expr(e, env, declared), declared, what)
            return declared
        types: dict[int, Type] = {}
        for e, env in items:
            if not isinstance(e, (ast.TextLit, ast.ListLit)):
                types[id(e)] = self.expr(e, env)
        hint = next((strip_optional(t) for t in types.values()
                     if isinstance(strip_optional(t), EnumT) or (isinstance(t, ListT) and isinstance(t.item, EnumT))),
                    hint)
        for e, env in items:
            if id(e) not in types:
                types[id(e)] = self.expr(e, env, hint)
        result: Type | None = None
        for e, _ in items:
            t = types[id(e)]
            u = t if result is None else unify(result, t)
            if u is None:
                self.error("type", f"this {what} is `{t}` but the ones before it are `{result}`", e.span,
                           "every result must have the same type")
            else:
                result = u
        return result if result is not None else ERROR

    def check_fits(self, e: ast.Expr, t: Type, declared: Type, what: str) -> None:
        if fits(t, declared):
            return
        if isinstance(t, (OptionalT, MissingT)) and fits(strip_optional(t), declared):
            name = e.name if isinstance(e, ast.Ref) else "..."
            self.error("missing", f"{describe_expr(e)} may be missing but the {what} must be `{declared}`", e.span,
                       MISSING_HELP.format(name))
        else:
            self.error("type", f"expected `{declared}` for this {what}, found `{t}`", e.span)

    # -- the cases
    def _expr(self, e: ast.Expr, env: Env, hint: Type | None) -> Type:
        match e:
            case ast.IntLit() | ast.DecimalLit() | ast.DateLit() | ast.BoolLit() | ast.MissingLit() | ast.DurationLit():
                return _LITERAL_TYPES[type(e)]
            case ast.TextLit():
                return self._text(e, hint)
            case ast.Ref():
                return self._ref(e, env)
            case ast.ListLit():
                return self._list(e, env, hint)
            case ast.Unary(op="not"):
                self.cond(e.operand, env)
                return BOOL
            case ast.Unary():
                t = self.need(e.operand, env)
                if is_numeric(t) or t in (DURATION, ERROR):
                    return t
                self.error("type", f"cannot negate `{t}`", e.span, "only numbers and durations can be negated")
                return ERROR
            case ast.Binary(op="and" | "or"):
                self.cond(e.left, env)
                facts = present_if_true(e.left) if e.op == "and" else present_if_false(e.left)
                self.cond(e.right, env.knowing(facts))
                return BOOL
            case ast.Binary():
                return self._arith(e, env)
            case ast.Compare():
                return self._compare(e, env)
            case ast.Member():
                self._member(e.item, e.collection, env, e.span)
                return BOOL
            case ast.IsMissing():
                t = self.expr(e.operand, env)
                if not isinstance(t, (OptionalT, MissingT, ErrorT)) and isinstance(e.operand, ast.Ref):
                    self.warnings.append(Diagnostic("missing", f"`{e.operand.name}` is never missing here",
                                                    e.span, severity="warning"))
                return BOOL
            case ast.IfThenElse():
                self.cond(e.cond, env)
                branches = [(e.then, env.knowing(present_if_true(e.cond))),
                            (e.otherwise, env.knowing(present_if_false(e.cond)))]
                return self.unify_results(branches, None, "branch", hint)
            case ast.Between():
                self.expect(e.start, env, DATE)
                self.expect(e.end, env, DATE)
                return INT
            case ast.AgeOn():
                self.expect(e.birth, env, DATE)
                self.expect(e.on, env, DATE)
                return INT
            case ast.Call():
                return self._call(e, env)
            case ast.Aggregate():
                item = self._source(e.source, env, e.kind)
                inner = env.bind(e.var, item)
                if e.where is not None:
                    self.cond(e.where, inner)
                kinds: dict[str, Type] = {"count": INT, "any": BOOL, "all": BOOL, "filter": ListT(item)}
                return kinds[e.kind]
            case ast.SumFor():
                item = self._source(e.source, env, "sum")
                inner = env.bind(e.var, item)
                if e.where is not None:
                    self.cond(e.where, inner)
                t = self.need(e.expr, inner)
                if is_numeric(t) or isinstance(t, ErrorT):
                    return t
                self.error("type", f"`sum` needs numbers, found `{t}`", e.expr.span)
                return ERROR
            case _:
                assert_never(e)

    def _text(self, e: ast.TextLit, hint: Type | None) -> Type:
        enum = strip_optional(hint) if hint is not None else None
        if not isinstance(enum, EnumT):
            return TEXT
        if e.value in enum.values:
            return enum
        self.error("type", f"\"{e.value}\" is not a value of `{enum}`", e.span,
                   did_you_mean(e.value, enum.values) or "the values are " + ", ".join(f'"{v}"' for v in enum.values))
        return ERROR

    def _ref(self, e: ast.Ref, env: Env) -> Type:
        name = e.name
        head, _, rest = name.partition(".")
        local = env.local(head)
        target: RefTarget
        if local is not None:
            t = local if not rest else self._field(e, local, head, rest)
            target = RefTarget("field", head, field=rest) if rest else RefTarget("local", head)
        elif name in self.policy.definitions:
            t, target = self.definition_type(name), RefTarget("definition", name)
            decl = self.policy.definitions[name]
            if env.constant is not None and not isinstance(decl, ast.ConstantDecl):
                self.error("name", f"constant `{env.constant}` cannot read `{name}`, which is not a constant",
                           e.span, "make it a `value` instead")
        elif name in self.input_types:
            t, target = self.input_types[name], RefTarget("input", name)
            if env.constant is not None:
                self.error("name", f"constant `{env.constant}` cannot read the input `{name}`", e.span,
                           "make it a `value` instead")
        elif head in self.policy.uses and rest:
            other = self.used.get(head)
            if other is None:
                self.error("name", f"the policy used as `{head}` was not checked", e.span,
                           f"check `{self.policy.uses[head].policy}` first and pass it to `check`")
                return ERROR
            if rest not in other.definition_types:
                self.error("name", f"`{rest}` is not defined in the policy used as `{head}`", e.span,
                           did_you_mean(rest, other.definition_types))
                return ERROR
            t, target = other.definition_types[rest], RefTarget("used", rest, alias=head)
            if env.constant is not None and not isinstance(other.policy.definitions.get(rest), ast.ConstantDecl):
                self.error("name", f"constant `{env.constant}` cannot read `{name}`, which is not a constant",
                           e.span, "make it a `value` instead")
        else:
            self._unknown(e, env)
            return ERROR
        self.ref_targets[id(e)] = target
        return strip_optional(t) if name in env.present else t

    def _field(self, e: ast.Ref, local: Type, head: str, rest: str) -> Type:
        record = strip_optional(local)
        if isinstance(record, ErrorT):
            return ERROR
        if not isinstance(record, RecordT):
            self.error("name", f"`{head}` is a `{record}`, which has no field `{rest}`", e.span)
            return ERROR
        f = record.field(rest)
        if f is None:
            self.error("name", f"record `{record.name}` has no field `{rest}`", e.span,
                       did_you_mean(rest, [x.name for x in record.fields]))
            return ERROR
        return optional(f.type) if f.optional else f.type

    def _unknown(self, e: ast.Ref, env: Env) -> None:
        group = self.policy.inputs.get(e.name)
        if group is not None:
            example = f", e.g. `{e.name}.{group.fields[0].name}`" if group.fields else ""
            self.error("name", f"`{e.name}` is an input group, not a value", e.span, f"name one of its fields{example}")
        elif e.name in self.policy.all_names():
            self.error("name", f"`{e.name}` is not a value", e.span,
                       "only constants, rules, values, decisions, tables and input fields can be used here")
        else:
            known = [*self.policy.definitions, *self.input_types, *(n for n, _ in env.locals)]
            known += [f"{alias}.{n}" for alias, other in self.used.items() for n in other.definition_types]
            self.error("name", f"`{e.name}` is not defined", e.span,
                       did_you_mean(e.name, known) or self._fields_of_group(e.name))

    def _fields_of_group(self, name: str) -> str | None:
        """For `group.unknown`: the group's fields, so the author sees what can be read."""
        group = self.policy.inputs.get(name.rsplit(".", 1)[0]) if "." in name else None
        if group is None:
            return None
        return f"input `{group.name}` has the fields " + ", ".join(f"`{f.name}`" for f in group.fields)

    def _list(self, e: ast.ListLit, env: Env, hint: Type | None) -> Type:
        want = strip_optional(hint) if hint is not None else None
        item_hint = want.item if isinstance(want, ListT) else None
        result: Type = NOTHING
        for item in e.items:
            t = self.need(item, env, item_hint)
            u = unify(result, t)
            if u is None:
                self.error("type", f"this list item is `{t}` but the ones before it are `{result}`", item.span,
                           "every item of a list must have the same type")
            else:
                result = u
        return ListT(result)

    def _arith(self, e: ast.Binary, env: Env) -> Type:
        lt, rt = self.need(e.left, env), self.need(e.right, env)
        if isinstance(lt, ErrorT) or isinstance(rt, ErrorT):
            return ERROR
        result = arith_result(e.op, lt, rt)
        if result is not None:
            return result
        help = None
        if lt == DATE and is_numeric(rt):
            help = f"write a duration, e.g. `{e.right.value if isinstance(e.right, ast.IntLit) else 14} days`"
        elif e.op == "/" and DURATION in (lt, rt):
            help = "durations can only be multiplied by a whole number"
        self.error("type", f"cannot apply `{e.op}` to `{lt}` and `{rt}`", e.span, help)
        return ERROR

    def pair(self, left: ast.Expr, right: ast.Expr, env: Env) -> tuple[Type, Type]:
        """Type two compared operands, letting a text literal on either side take the other side's enum type."""
        if isinstance(left, (ast.TextLit, ast.ListLit)) and not isinstance(right, (ast.TextLit, ast.ListLit)):
            rt = self.need(right, env)
            return self.need(left, env, rt), rt
        lt = self.need(left, env)
        return lt, self.need(right, env, lt)

    def _compare(self, e: ast.Compare, env: Env) -> Type:
        lit = e.left if isinstance(e.left, ast.MissingLit) else e.right if isinstance(e.right, ast.MissingLit) else None
        if lit is not None:
            other = e.right if lit is e.left else e.left
            self.expr(lit, env)
            self.expr(other, env)
            name = other.name if isinstance(other, ast.Ref) else "..."
            neg = "not " if e.op == "!=" else ""
            self.error("missing", f"`{e.op}` cannot test for `missing`", e.span, f"write `{name} is {neg}missing`")
            return BOOL
        lt, rt = self.pair(e.left, e.right, env)
        self.relate(e.op, lt, rt, e.span, (e.left, e.right))
        return BOOL

    def relate(self, op: str, lt: Type, rt: Type, span: ast.Span, operands: tuple[ast.Expr | None, ...]) -> None:
        """Report if `lt op rt` is not a valid comparison."""
        if isinstance(lt, ErrorT) or isinstance(rt, ErrorT):
            return
        if op in ("=", "!="):
            if not comparable(lt, rt):
                self.error("type", f"cannot compare `{lt}` with `{rt}`", span)
            return
        if (is_numeric(lt) and is_numeric(rt)) or lt == rt == DATE:
            return
        if lt == rt == DURATION:
            for x in operands:
                if isinstance(x, ast.DurationLit) and x.unit in ("months", "years"):
                    self.error("type", f"cannot order durations in {x.unit}", x.span,
                               "months and years have no fixed length: compare dates, or write days or weeks")
            return
        help = "only numbers, dates and durations can be ordered" if lt == rt else None
        self.error("type", f"cannot compare `{lt}` with `{rt}`", span, help)

    def _member(self, item: ast.Expr, collection: ast.Expr, env: Env, span: ast.Span) -> None:
        if isinstance(item, ast.TextLit) and not isinstance(collection, ast.ListLit):
            ct = self.need(collection, env)
            it = self.need(item, env, ct.item if isinstance(ct, ListT) else None)
        else:
            it = self.need(item, env)
            ct = self.need(collection, env, ListT(it))
        self.member_types(it, ct, collection.span, span)

    def member_types(self, it: Type, ct: Type, collection_span: ast.Span, span: ast.Span) -> None:
        if isinstance(ct, ErrorT):
            return
        if not isinstance(ct, ListT):
            self.error("type", f"`in` needs a list, found `{ct}`", collection_span)
        elif not isinstance(it, ErrorT) and not isinstance(ct.item, (NothingT, ErrorT)) and not comparable(it, ct.item):
            self.error("type", f"cannot look for `{it}` in a `{ct}`", span)

    def _source(self, source: ast.Expr, env: Env, what: str) -> Type:
        t = self.need(source, env)
        if isinstance(t, ListT):
            return ERROR if isinstance(t.item, NothingT) else t.item
        if not isinstance(t, ErrorT):
            self.error("type", f"`{what}` needs a list, found `{t}`", source.span)
        return ERROR

    def _call(self, e: ast.Call, env: Env) -> Type:
        types = [self.need(a, env) for a in e.args]
        if any(isinstance(t, ErrorT) for t in types):
            return ERROR
        t, problem, at = call_type(e.func, types)
        if problem is not None:
            self.error("type", problem, e.span if at < 0 else e.args[at].span)
        return t
