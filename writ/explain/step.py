"""One step of an explanation: what it says whatever the case (its `StepInfo`), and this case's value and findings.

An explanation's steps are made by generated code (`writ.explain.steps`), dozens
per case, and read by every renderer; so a step is a small slotted object the
generated code fills in place, keeping only what differs from case to case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from writ.evaluator.counterfactual import Counterfactual
from writ.evaluator.whynot import Comparison, Elapsed
from writ.explain.plan import StepInfo

__all__ = ["NO_INPUTS", "MadeComparison", "MadeElapsed", "MadeStep", "Step", "absent_inputs", "beneath"]

NO_INPUTS: dict[str, Any] = {}  # the inputs of every step that shows no facts read: shared, so never changed


class Step:
    """One step of an explanation: its `StepInfo`, and this case's value, reach, facts read and findings.

    A case's steps are built by the dozen, so a step holds no more than it must: `children` is a tuple fixed when
    the step is made (a list only where the generated code adds to it), shared and empty for a leaf; `inputs` is
    shared by the steps of a case that read the same facts (and by every step that reads none), so it is never
    changed in place; nor is `comparison`, which the steps of many cases share where one value of a few tells all
    it holds (a text, enum or truth value compared with a constant). Every field is a slot, findings included: renderers read each of them for every step they
    show, and a slot is the cheapest read."""

    __slots__ = ("info", "value", "reached", "children", "inputs", "comparison", "counterfactuals", "needed",
                 "overridden_by")

    def __init__(self, info: StepInfo, value: Any, reached: bool = True, children: Sequence[Step] = (),
                 inputs: dict[str, Any] | None = None) -> None:
        self.info = info
        self.value = value
        self.reached = reached  # False: the run did not reach it; `value` was recorded apart, when it could be
        self.children: Sequence[Step] = children
        # The facts read, by path (a table's rows: the given expressions' values, by their text).
        self.inputs: dict[str, Any] = inputs if inputs is not None else NO_INPUTS
        self.comparison: Comparison | None = None
        # Findings are set whole, never added to: most steps have none and share one empty tuple.
        self.counterfactuals: Sequence[Counterfactual] = ()
        self.needed: Sequence[str] = ()      # absent facts that would decide a missing value
        self.overridden_by: str | None = None  # for a default overridden by an exception: its name

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def label(self) -> str | None:
        return self.info.label

    @property
    def citation(self) -> str | None:
        return self.info.citation

    @property
    def text(self) -> str:
        return self.info.text

    @property
    def name(self) -> str | None:
        return self.info.name

    @property
    def policy(self) -> str | None:
        return self.info.policy

    def __repr__(self) -> str:
        return f"Step({self.info.id!r}, {self.info.kind}, value={self.value!r})"


class MadeStep(Step):
    """A `Step` as the generated builders make it: called with no arguments (no `__init__` runs), its slots then
    set in place. Calling the class costs less than `object.__new__(Step)`, which the builders would otherwise need
    to skip `Step.__init__`: that goes through a wrapper that packs its arguments twice, and a case makes dozens of
    steps. The slots are Step's own, so a renderer's reads of them stay specialised."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]


def _same_fields(self: Any, other: object) -> bool:
    """Equality of two records of one kind, whichever of the two classes made each (the dataclass's own `==`
    holds only between objects of one class)."""
    base: Any = type(self).__mro__[1]
    if not isinstance(other, base):
        return NotImplemented  # type: ignore[return-value]
    return all(getattr(self, name) == getattr(other, name) for name in base.__slots__)


def _shown_as_base(self: Any) -> str:
    """The repr of the record of the dataclass with the same fields."""
    base: Any = type(self).__mro__[1]
    return f"{base.__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in base.__slots__)})"


class MadeComparison(Comparison):
    """A `Comparison` as the generated builders make it, as `MadeStep` is a `Step`: called with no arguments (no
    `__init__` runs; `object.__new__` goes through a wrapper that packs its arguments twice), its fields then set in
    place. It is equal to, and shown as, the `Comparison` with the same fields."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]
    __eq__ = _same_fields  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]
    __repr__ = _shown_as_base


class MadeElapsed(Elapsed):
    """An `Elapsed` as the generated builders make it (see `MadeComparison`)."""

    __slots__ = ()
    __init__ = object.__init__  # type: ignore[assignment]
    __eq__ = _same_fields  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]
    __repr__ = _shown_as_base


def beneath(step: Step, children: Callable[[Step], Sequence[Step]] | None = None) -> list[Step]:
    """`step` and every step beneath it (through `children`, by default each step's own), each once, in reading
    order; iteratively, as trees may be deep."""
    out: list[Step] = []
    seen: set[int] = set()
    stack = [step]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        below = current.children if children is None else children(current)
        if below:
            stack.extend(reversed(below))
    return out


def absent_inputs(step: Step) -> list[str]:
    """Inputs read as missing anywhere beneath a step, each once: what a missing output would need."""
    return list(dict.fromkeys(k for s in beneath(step) for k, v in s.inputs.items() if v is None))
