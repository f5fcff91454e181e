"""An `ir.Program` in, an injective map from its names to Python identifiers out: the renaming pass.

Generated code keeps one local per input field, definition, used definition
and loop variable. Names in the language may contain dots (`person.start`)
and may differ only where a plain substitution would merge them
(`person_start` and `person.start`, `a.b__c` and `a__b.c`), so each name is
made an identifier (every other character becomes `_`), given a prefix by
kind (`i_`, `d_`, `u_`, `l_`), and then numbered when that identifier is
already taken. The map is injective by construction, and no generated name
can be a Python keyword, a builtin or one of the generator's own names
(those start with `_`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from writ.dsl import ir

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class Names:
    """Identifiers for one program's names, assigned in a stable order (declaration order)."""

    inputs: dict[str, str] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)
    used: dict[tuple[str, str], str] = field(default_factory=dict)
    locals: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def fresh(self, prefix: str, name: str) -> str:
        base = prefix + _UNSAFE.sub("_", name)
        candidate, n = base, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{base}_{n}"
        self.taken.add(candidate)
        return candidate

    def input(self, path: str) -> str:
        if path not in self.inputs:
            self.inputs[path] = self.fresh("i_", path)
        return self.inputs[path]

    def definition(self, name: str) -> str:
        if name not in self.definitions:
            self.definitions[name] = self.fresh("d_", name)
        return self.definitions[name]

    def used_name(self, alias: str, name: str) -> str:
        key = (alias, name)
        if key not in self.used:
            self.used[key] = self.fresh("u_", f"{alias}__{name}")
        return self.used[key]

    def local(self, var: str) -> str:
        """Loop variables: one identifier per name (an inner loop's variable shadows an outer one's, as in the
        language, because comprehensions scope them the same way)."""
        if var not in self.locals:
            self.locals[var] = self.fresh("l_", var)
        return self.locals[var]


def rename(program: ir.Program) -> Names:
    """Identifiers for every input, definition and used definition of `program`, in declaration order."""
    names = Names()
    for f in program.inputs:
        names.input(f.path)
    for d in program.definitions:
        names.definition(d.name)
    for use in program.uses:
        for name in use.names:
            names.used_name(use.alias, name)
    return names
