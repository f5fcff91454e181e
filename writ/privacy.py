"""A decision's facts and explanation in, what a log or a record may keep of them out: personal data masked.

Inputs a policy marks `sensitive` or `special category` are personal data
(a child's birth date, a disability, caring relationships, protected
characteristics). A deployment chooses what its decision log and decision
records keep of the facts (`--log-facts`):

- `all`: the facts as given;
- `masked` (the default): each sensitive value replaced by its keyed hash,
  `hmac-sha256:<hex>` of the field's path and value under a secret key, so
  that the record proves which facts were decided on without holding them:
  given the facts again, `writ replay` checks their hashes and re-decides;
- `none`: no facts at all (the decision cannot be replayed).

A keyed hash, not a plain one: a date of birth has some 40,000 likely
values, and an unkeyed hash of each would be reversed in a moment. The key
comes from `$WRIT_LOG_KEY`, else from a key file (created with mode 0600 on
first use). The record names the key by an id derived from it, so a replay
with another key is refused rather than reported as different facts.

Explanations written to logs follow the same rule: every step that reads a
sensitive input, directly or through the rules it uses, keeps its structure
(rule, label, citation, expression text) and has its values masked. Outputs
are the decision itself and are kept as decided.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from writ.dsl import ast
from writ.dsl.errors import InputError, InputProblem

LogFacts = Literal["all", "masked", "none"]
LOG_FACTS: tuple[LogFacts, ...] = ("all", "masked", "none")
KEY_ENV = "WRIT_LOG_KEY"
KEY_FILE_NAME = ".writ-log-key"
PREFIX = "hmac-sha256:"
Plan: TypeAlias = dict[str, Any]  # name -> True (mask the value), a Plan (an object), or ("items", Plan) (a list)

# Explanation keys that hold structure, never a value read or computed from the facts.
STRUCTURE = frozenset({"id", "kind", "rule", "policy", "label", "citation", "text", "evaluated", "reached",
                       "children", "left_text", "right_text", "op", "relation", "unit", "explanation_schema",
                       "$schema"})


def refuse(option: str, message: str) -> InputError:
    return InputError([InputProblem(option, message)])


@dataclass(frozen=True)
class MaskKey:
    """The secret that keys the hashes, and where it came from."""

    secret: bytes
    source: str

    @property
    def id(self) -> str:
        """A name for the key, recorded with masked facts (it reveals nothing of a random key)."""
        return hmac.new(self.secret, b"writ mask key id", hashlib.sha256).hexdigest()[:16]

    def digest(self, path: str, value: Any) -> str:
        """The keyed hash of one value at one path (a value moved to another field hashes differently)."""
        canonical = json.dumps([path, value], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return PREFIX + hmac.new(self.secret, canonical.encode("utf-8", "backslashreplace"), hashlib.sha256).hexdigest()


def load_key(key_file: Path | None, say: Callable[[str], Any] = lambda _: None, create: bool = True) -> MaskKey:
    """The masking key: `$WRIT_LOG_KEY`, else the key file (created, mode 0600, when `create` and it is missing)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return MaskKey(env.encode("utf-8"), f"${KEY_ENV}")
    if key_file is None:
        raise refuse("--log-key-file", f"masking needs a key: set {KEY_ENV}, or give --log-key-file FILE")
    try:
        stat = key_file.stat()
    except FileNotFoundError:
        if not create:
            raise refuse("--log-key-file", f"no key file `{key_file}` (and {KEY_ENV} is not set)") from None
        check_private_folder(key_file.parent, "--log-key-file")
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise refuse("--log-key-file", f"cannot create the key file `{key_file}`: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_hex(32) + "\n")
        say(f"generated a masking key in `{key_file}` (mode 0600): keep it, replaying masked records needs it; "
            f"or set {KEY_ENV}")
        stat = key_file.stat()
    except OSError as exc:
        raise refuse("--log-key-file", f"cannot read the key file `{key_file}`: {exc.strerror}") from None
    if stat.st_mode & 0o077:
        raise refuse("--log-key-file", f"the key file `{key_file}` can be read by others "
                                       f"(mode {stat.st_mode & 0o777:04o}); make it 0600")
    secret = key_file.read_bytes().strip()
    if len(secret) < 16:
        raise refuse("--log-key-file", f"the key in `{key_file}` is too short (at least 16 bytes)")
    return MaskKey(secret, str(key_file))


def check_private_folder(folder: Path, option: str) -> None:
    """Refuse a folder for personal data that others can write in (they could replace or plant files)."""
    try:
        mode = folder.stat().st_mode
    except OSError as exc:
        raise refuse(option, f"cannot use the folder `{folder}`: {exc.strerror}") from None
    if mode & 0o022:
        raise refuse(option, f"the folder `{folder}` can be written by others (mode {mode & 0o777:04o}); logs and "
                             "records of personal data need a folder only their owner can write (chmod go-w)")


# -- which inputs are personal data --------------------------------------------------------------------------------
def plan_of(policy: Any) -> Plan:
    """Where the sensitive values of a policy version's facts are (`policy` is a `ResolvedPolicy`)."""
    plan: Plan = {}
    for group in policy.inputs.values():
        fields = _fields_plan(group.fields, group.privacy, policy, set())
        if not group.name:
            plan.update(fields)
        elif fields:
            plan[group.name] = fields
    return plan


def _fields_plan(fields: Iterable[ast.Field], privacy: ast.Privacy, policy: Any, seen: set[str]) -> Plan:
    plan: Plan = {}
    for f in fields:
        if ast.stricter(f.privacy, privacy):
            plan[f.name] = True
        elif (inner := _type_plan(f.type, policy, seen)) is not None:
            plan[f.name] = inner
    return plan


def _type_plan(t: ast.TypeExpr, policy: Any, seen: set[str]) -> Any:
    match t:
        case ast.ListType():
            inner = _type_plan(t.item, policy, seen)
            return ("items", inner) if inner is not None else None
        case ast.NamedType() if t.name in policy.records and t.name not in seen:
            inner = _fields_plan(policy.records[t.name].fields, "", policy, seen | {t.name})
            return inner or None
    return None


def sensitive_paths(plan: Plan, prefix: str = "") -> set[str]:
    """The dotted paths the plan masks (list items as `[]`), for matching an explanation's inputs."""
    out: set[str] = set()
    for name, node in plan.items():
        path = f"{prefix}{name}"
        if node is True:
            out.add(path)
        elif isinstance(node, tuple):
            out |= sensitive_paths(node[1], path + "[].") if isinstance(node[1], dict) else {path}
        else:
            out |= sensitive_paths(node, path + ".")
    return out


# -- masking ---------------------------------------------------------------------------------------------------------
@dataclass
class Masked:
    """Facts fit for a log, and where (and with which key) their sensitive values were masked."""

    facts: Any
    paths: list[str] = field(default_factory=list)

    def info(self, mode: LogFacts, key: MaskKey | None) -> dict[str, Any]:
        return {"mode": mode, "paths": self.paths} | ({"key_id": key.id} if key is not None and self.paths else {})


def mask_facts(facts: Any, plan: Plan, key: MaskKey, prefix: str = "") -> Masked:
    """A copy of `facts` with each sensitive value present replaced by its keyed hash (absent stays absent)."""
    result = Masked(facts)
    if not isinstance(facts, dict) or not plan:
        return result
    out = dict(facts)
    for name, node in plan.items():
        if name not in facts:
            continue
        path = f"{prefix}{name}"
        value = facts[name]
        if node is True:
            out[name] = key.digest(path, value)
            result.paths.append(path)
        elif isinstance(node, tuple) and isinstance(value, list):
            items = []
            for k, item in enumerate(value):
                inner = mask_facts(item, node[1], key, f"{path}[{k}].")
                items.append(inner.facts)
                result.paths += inner.paths
            out[name] = items
        elif isinstance(node, dict):
            inner = mask_facts(value, node, key, f"{path}.")
            out[name] = inner.facts
            result.paths += inner.paths
    result.facts = out
    return result


def facts_differ(recorded: Any, given: Any, path: str = "") -> list[str]:
    """The paths where two (masked) facts documents differ; [] when they are the same."""
    if isinstance(recorded, dict) and isinstance(given, dict):
        return [p for k in sorted(set(recorded) | set(given), key=str)
                for p in facts_differ(recorded.get(k, _ABSENT), given.get(k, _ABSENT), f"{path}.{k}" if path else k)]
    if isinstance(recorded, list) and isinstance(given, list) and len(recorded) == len(given):
        return [p for k, (a, b) in enumerate(zip(recorded, given, strict=True)) for p in facts_differ(a, b, f"{path}[{k}]")]
    return [] if recorded == given and type(recorded) is type(given) else [path or "(root)"]


_ABSENT = object()


def tainted_names(compiled: Any, paths: set[str]) -> set[str]:
    """The definitions whose value depends on a sensitive input, directly or through others (`compiled` is a
    `CompiledPolicy`; a definition of a used policy may read any input, so it counts when any input is sensitive)."""
    if not paths:
        return set()
    plain = {p.replace("[]", "") for p in paths}
    tainted = set()
    for name in compiled.nodes:
        if name.startswith("input:"):
            continue
        reached = compiled.reach((name,))
        if any(n.startswith("used:") for n in reached) or any(
                n.removeprefix("input:") in plain or any(n.removeprefix("input:").startswith(p + ".") for p in plain)
                for n in reached if n.startswith("input:")):
            tainted.add(name)
    return tainted


def mask_explanation(tree: Any, paths: set[str], tainted: set[str], key: MaskKey) -> Any:
    """A copy of an explanation (its JSON) with the values of every step touching personal data masked."""
    plain = {p.replace("[]", "") for p in paths}

    def sensitive(path: str) -> bool:
        return path in plain or any(path.startswith(p + ".") or path.startswith(p + "[") for p in plain)

    def touches(node: dict[str, Any]) -> bool:
        if node.get("rule") in tainted or sensitive(str(node.get("input", ""))):
            return True
        inputs = node.get("inputs")
        if isinstance(inputs, dict) and any(sensitive(str(k)) for k in inputs):
            return True
        words = f" {node.get('text', '')} {node.get('left_text', '')} {node.get('right_text', '')} "
        return any(_mentions(words, name) for name in tainted | plain)

    def walk(node: Any, where: str, masked: bool) -> Any:
        if isinstance(node, list):
            return [walk(item, f"{where}[{k}]", masked) for k, item in enumerate(node)]
        if not isinstance(node, dict):
            return key.digest(where, node) if masked else node
        here = masked or ("id" in node and touches(node)) or sensitive(str(node.get("input", "")))
        out: dict[str, Any] = {}
        for k, v in node.items():
            place = f"{node.get('id', where)}.{k}"
            if k == "inputs" and isinstance(v, dict):
                out[k] = {p: key.digest(f"{place}.{p}", x) if here or sensitive(p) else x for p, x in v.items()}
            elif k == "children":
                out[k] = walk(v, place, False)
            elif k in STRUCTURE:
                out[k] = v
            else:
                out[k] = walk(v, place, here)
        return out
    return walk(tree, "", False)


def _mentions(text: str, name: str) -> bool:
    """Whether `text` names `name` as a whole word (`child_born_on`, not `x_child_born_on_y`)."""
    start = text.find(name)
    while start >= 0:
        before, after = text[start - 1:start], text[start + len(name):start + len(name) + 1]
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = text.find(name, start + 1)
    return False


@dataclass
class Privacy:
    """A deployment's choice of what logs and records keep of the facts, with its key when masking."""

    mode: LogFacts = "all"
    key: MaskKey | None = None
    _plans: dict[tuple[str, str, str], tuple[Plan, set[str], set[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode == "masked" and self.key is None:
            raise ValueError("masking needs a key")

    def plan(self, program: Any) -> tuple[Plan, set[str], set[str]]:
        """A version's plan, its sensitive paths and its tainted definitions (worked out once per version)."""
        ref = (program.policy_id, program.version, program.content_hash)
        found = self._plans.get(ref)
        if found is None:
            plan = plan_of(program.policy)
            paths = sensitive_paths(plan)
            found = self._plans[ref] = (plan, paths, tainted_names(program.compiled, paths))
        return found

    def facts(self, program: Any, facts: Any) -> tuple[Any, dict[str, Any]]:
        """What to log of `facts` decided by `program` (a `Program`), and the `privacy` note to log with it."""
        if self.mode == "all":
            return facts, {"mode": "all"}
        if self.mode == "none":
            return None, {"mode": "none"}
        assert self.key is not None
        masked = mask_facts(facts, self.plan(program)[0], self.key)
        return masked.facts, masked.info("masked", self.key)

    def explanation(self, program: Any, tree: Any) -> Any:
        """What to log of an explanation (its JSON): as is, masked, or nothing."""
        if self.mode == "all" or tree is None:
            return tree
        if self.mode == "none":
            return None
        assert self.key is not None
        _, paths, tainted = self.plan(program)
        return mask_explanation(tree, paths, tainted, self.key) if paths else tree
