"""Reviewing a change between two policy versions by running them: witness cases and population impact.

The layer between the evaluator and the explanations: it runs versions
through a backend (writ.evaluator) and reports what differs, and
writ.explain renders those reports.
"""
