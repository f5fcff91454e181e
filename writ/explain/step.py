"""One step of an explanation: what it says whatever the case (its `StepInfo`), and this case's value and findings.

An explanation's steps are made by generated code (`writ.explain.steps`), dozens
per case, and read by every renderer; so a step is a small slotted object the
generated code fills in place, keeping only what differs from case to case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from writ.evaluator.counterfactual import Counterfactual
from writ.evaluator.whynot import Comparison
from writ.explain.plan import StepInfo

__all__ = ["Findable", "Step"]


class Step:
    """One step of an explanation: its `StepInfo`, and this case's value, reach, facts read and findings.

    A case's steps are built by the dozen, so a step holds no more than it must: `children` is a tuple fixed when
    the step is made (a list only where the generated code adds to it), shared and empty for a leaf; the facts read
    are kept as their values alone, in the order of `info.reads`, and `inputs` pairs the two when asked. The
    findings (`comparison`, `counterfactuals`, `needed`, `overridden_by`) are read from the class, empty, unless the
    step is a `Findable`: the generated code knows which steps can have any and makes those, and only those, with
    room for them."""

    __slots__ = ("info", "value", "reached", "children", "read")

    comparison: Comparison | None = None
    # Findings are set whole, never added to.
    counterfactuals: Sequence[Counterfactual] = ()
    needed: Sequence[str] = ()      # absent facts that would decide a missing value
    overridden_by: str | None = None  # for a default overridden by an exception: its name

    def __init__(self, info: StepInfo, value: Any, reached: bool = True, children: Sequence[Step] = (),
                 read: tuple[Any, ...] = ()) -> None:
        self.info = info
        self.value = value
        self.reached = reached  # False: the run did not reach it; `value` was recorded apart, when it could be
        self.children: Sequence[Step] = children
        self.read = read  # the values of `info.reads` (empty: nothing shown as read)

    @property
    def inputs(self) -> dict[str, Any]:
        """The facts this step read, by path (a table's rows: the given expressions' values, by their text)."""
        read = self.read
        return dict(zip(self.info.reads, read, strict=True)) if read else {}

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


class Findable(Step):
    """A step that may have findings: a definition's (an output's facts needed, its value's comparison and
    changes), a condition's or case's that compares or whose changes the search may find, an overridden default."""

    __slots__ = ("comparison", "counterfactuals", "needed", "overridden_by")

    def __init__(self, info: StepInfo, value: Any, reached: bool = True, children: Sequence[Step] = (),
                 read: tuple[Any, ...] = ()) -> None:
        super().__init__(info, value, reached, children, read)
        self.comparison = None
        self.counterfactuals = ()
        self.needed = ()
        self.overridden_by = None
