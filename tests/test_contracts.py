"""The integrator contracts (../shared/contracts/*.md), checked mechanically against the policies.

Every input field and output a contract lists must exist, under exactly that
name, in every version of the policy it names, with the contract's JSON type.
A policy may add optional inputs and extra outputs; it may not rename or drop.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import writ

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT.parent / "shared" / "contracts"

# Which policies each contract section describes.
SECTIONS = {
    "flexible-working.md": {"Inputs (both policies)": ["uk-flexible-working", "tvp-flexible-working"],
                            "Outputs": ["uk-flexible-working", "tvp-flexible-working"]},
    "part-time-pay-and-recruitment.md": {
        "tvp-part-time-conditions — inputs": ["tvp-part-time-conditions"],
        "tvp-part-time-conditions — outputs": ["tvp-part-time-conditions"],
        "positive-action-recruitment — inputs": ["positive-action-recruitment"],
        "positive-action-recruitment — outputs": ["positive-action-recruitment"],
    },
}
TVP_ONLY_OUTPUTS = {"route"}


def _tables(path: Path) -> dict[str, list[tuple[str, str]]]:
    """`## heading` -> [(first column, second column)] of the table beneath it."""
    tables: dict[str, list[tuple[str, str]]] = {}
    heading = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("|") and not line.startswith("|---") and heading:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] in ("field", "output"):
                continue
            tables.setdefault(heading, []).append((cells[0], cells[1] if len(cells) > 1 else ""))
    return tables


def _schema_at(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in path.split("."):
        props = (node or {}).get("properties", {})
        node = props.get(part)
        if node is None:
            return None
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _json_types(node: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    t = node.get("type")
    found.update([t] if isinstance(t, str) else (t or []))
    for alt in node.get("anyOf", []) + node.get("oneOf", []):
        found |= _json_types(alt)
    return found


def _expected_types(contract_type: str) -> set[str]:
    text = contract_type.lower()
    wanted = set()
    if "list" in text:
        wanted.add("array")
    elif "decimal" in text:
        wanted.add("number")
    elif text.startswith("int"):
        wanted.add("integer")
    elif text.startswith("bool"):
        wanted.add("boolean")
    elif "date" in text or "string" in text or '"' in text:
        wanted.add("string")
    return wanted


def _cases() -> list[tuple[str, str, str, str]]:
    out = []
    if not CONTRACTS.is_dir():
        return out
    for file, sections in SECTIONS.items():
        tables = _tables(CONTRACTS / file)
        for section, policies in sections.items():
            assert section in tables, f"{file} has no section `{section}` any more"
            for name, kind in tables[section]:
                for policy in policies:
                    out.append((policy, "outputs" if "utputs" in section else "inputs", name, kind))
    return out


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="../shared/contracts is not beside this checkout")
@pytest.mark.parametrize(("policy_id", "side", "name", "kind"), CASES,
                         ids=[f"{p}:{s}:{n}" for p, s, n, _ in CASES])
def test_contract_field(policy_id: str, side: str, name: str, kind: str) -> None:
    policy = writ.load(ROOT / "policies" / policy_id)
    for info in policy.versions():
        program = policy.version(info.version)
        if side == "outputs":
            if name in TVP_ONLY_OUTPUTS and not policy_id.startswith("tvp-"):
                continue
            assert name in program.outputs, f"{policy_id}@{info.version} does not output `{name}`"
            continue
        node = _schema_at(program.inputs.schema(), name)
        assert node is not None, f"{policy_id}@{info.version} has no input `{name}`"
        wanted = _expected_types(kind)
        assert wanted <= _json_types(node) | ({"string"} if "enum" in node else set()), (
            f"{policy_id}@{info.version} input `{name}` is {_json_types(node)}, the contract says {kind}")


def test_contract_sections_parsed() -> None:
    if not CONTRACTS.is_dir():
        pytest.skip("../shared/contracts is not beside this checkout")
    assert len(CASES) > 60
    assert re.search(r"application\.received_on", " ".join(n for _, _, n, _ in CASES))
