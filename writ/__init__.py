"""writ: employment policies as rule files, checked, evaluated and explained.

    import writ
    policy = writ.load("uk-flexible-working")
    decision = policy.evaluate(facts)          # the version in force on the case's date
    decision.outputs["statutory_eligible"]
"""

from writ.api import Policy, VersionInfo, Workspace, load
from writ.dsl.errors import EvaluationError, InputError, NotFoundError, PolicyError, WritError
from writ.evaluator.engine import Decision, Trace

__all__ = ["Decision", "EvaluationError", "InputError", "NotFoundError", "Policy", "PolicyError", "Trace",
           "VersionInfo", "Workspace", "WritError", "load"]
