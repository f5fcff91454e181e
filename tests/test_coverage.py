"""Coverage: source documents read as clauses, `out of scope` in the language, `writ coverage` (what counts, the
gate, the JSON shape) and `writ cites` on a small library written here, the explanation's clauses, and the honest
map of the shipped sources."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from writ.clauses import matches
from writ.cli import main
from writ.coverage import coverage_reports, document_maps, library_context, load_policy
from writ.dsl.citations import SourceText, parse_citation
from writ.dsl.errors import PolicyError
from writ.dsl.lint import lint_library
from writ.dsl.loader import Library
from writ.dsl.parser import parse
from writ.dsl.printer import format_text

ROOT = Path(__file__).parent.parent
SOURCES = ROOT / "policies" / "sources"

HANDBOOK = """<b><u>Policy Title</u></b>\tThe Demo Handbook

**CONTENTS:**

**1.0 Scope**

## **1.0 Scope**

Who this covers.

## **2.0 Pay**

### **2.1 Rates**

**Overtime**

Overtime above 40 hours.

**Bank Holidays**

Double time.

**NOT PROTECTIVELY MARKED**

### **2.2 Records**

Keep records.

**NOT PROTECTIVELY MARKED**

**NOT PROTECTIVELY MARKED**
"""

DEMO = """\
policy "demo":
  title "Demo"
  version "1"
  effective 2024-01-01
  source "The Demo Handbook"

input duty "the duty":
  hours: int >= 0 "hours that week"
  bank_holiday: bool "on a bank holiday"
  grade: text "the grade"

out of scope [§2.2] "record keeping is an administrative duty, not a decision about a case"

rule overtime "worked overtime" [§2.1 Overtime]:
  all of:
    duty.hours > 40 "more than 40 hours" [§2.1 Overtime]
    duty.grade != "senior" "not a senior grade" [§9.9]

decide rate: decimal "the rate" [§2.1]:
  when duty.bank_holiday: 2.0 "double time" [§2.1 Bank Holidays]
  otherwise: 1.0 "plain time" [ERA 1996 s.80F(4)]

table band: text "the band" [§2.1 Overtime]:
  hit first
  given duty.hours
  < 20 -> "short" "under 20" [§2.1 Overtime]
  < 40 -> "normal" "20 to 39" [§2.1 Overtime]
  otherwise -> "long" "40 or more" [§2.1 Overtime]

exception senior_rate to rate "seniors are paid plain time" [§2.1 Overtime]:
  when duty.grade = "senior": 1.0

outputs: overtime, rate, band
"""

TESTS = """\
base:
  duty: {hours: 45, bank_holiday: false, grade: "junior"}
cases:
  - name: overtime
    expect: {overtime: true, rate: 1.0, band: long}
  - name: bank holiday, short week
    input: {duty: {hours: 10, bank_holiday: true}}
    expect: {overtime: false, rate: 2.0, band: short}
"""


@pytest.fixture
def library(tmp_path: Path) -> Path:
    (tmp_path / "policies" / "demo" / "tests").mkdir(parents=True)
    (tmp_path / "policies" / "demo" / "1.writ").write_text(DEMO)
    (tmp_path / "policies" / "demo" / "tests" / "cases.yaml").write_text(TESTS)
    (tmp_path / "policies" / "sources").mkdir()
    (tmp_path / "policies" / "sources" / "handbook.txt").write_text(HANDBOOK)
    return tmp_path / "policies"


def _line(text: str, needle: str) -> int:
    return next(i for i, x in enumerate(text.splitlines(), 1) if needle in x)


# ------------------------------------------------------------ clauses of a source text


def test_clauses_are_own_texts_of_sections_and_headed_parts() -> None:
    source = SourceText.parse(Path("handbook.txt"), HANDBOOK)
    cites = [c.cite for c in source.clauses]
    assert cites == ["§1", "§2.1 Overtime", "§2.1 Bank Holidays", "§2.2"]  # §2 and §2.1 have no text of their own
    first = source.clauses[0]
    assert first.line == _line(HANDBOOK, "## **1.0 Scope**") and first.text == "Who this covers."  # not the contents
    assert "NOT PROTECTIVELY" not in source.clauses[2].text  # page furniture is not text


def test_the_shipped_documents_clauses() -> None:
    fw = SourceText.read(SOURCES / "flexible-working-policy.txt")
    by_cite = {c.cite: c for c in fw.clauses}
    assert {"§3.3.1", "App A.4", "App B.5", "App C 4 Student Officers / Probationers",
            "App C 9.1 Rest day working", "§7.1 (i) Legal Basis"} <= set(by_cite)
    assert "If less than 5 days notice then double time" in by_cite["App C 9.1 Rest day working"].text
    assert "§3" not in by_cite and "App C 9.1" not in by_cite
    pa = SourceText.read(SOURCES / "positive-action-recruitment.txt")
    assert [c.cite for c in pa.clauses] == [f"¶{n}" for n in range(1, 22)]
    assert "speculative CVs" in pa.clauses[5].text and pa.clauses[16].title == "Disability Confident Employer"


def test_citations_resolve_to_clauses_and_headings_are_checked() -> None:
    source = SourceText.parse(Path("handbook.txt"), HANDBOOK)
    resolved = [source.resolve(p) for p in parse_citation("§2.1 Overtime; §2.1; §1 Scope; ERA 1996 s.80F(4)")]
    assert [c.cite if c else None for c in resolved] == ["§2.1 Overtime", None, "§1", None]
    para = parse_citation("¶6 Positive Action")[0]
    assert para.document and para.key == ("", "¶6") and para.heading == "Positive Action"
    pa = SourceText.read(SOURCES / "positive-action-recruitment.txt")
    assert pa.resolve(para) is pa.clauses[5]
    assert pa.resolve(parse_citation("¶6 Disability Confident")[0]) is None


# ------------------------------------------------------------ out of scope, in the language


def test_out_of_scope_parses_formats_and_resolves_through_amends(library: Path) -> None:
    file = parse(DEMO, "1.writ")
    assert format_text(format_text(DEMO)) == format_text(DEMO)
    assert parse(format_text(DEMO), "1.writ") == file
    (library / "demo" / "2.writ").write_text('policy "demo":\n  version "2"\n  effective 2025-01-01\n  amends "1"\n\n'
                                             'out of scope [§1] "a scope statement decides nothing"\n'
                                             'out of scope [§2.2] "kept by HR"\n')
    v2 = Library(library).load("demo", "2")
    assert {k: d.reason for k, d in v2.resolved.out_of_scope.items()} == {
        "§2.2": "kept by HR", "§1": "a scope statement decides nothing"}


@pytest.mark.parametrize(("declaration", "message"), [
    ('out of scope [ERA 1996 s.80F] "statute"', "names another instrument"),
    ('out of scope [App C] "all of it"', "names a whole appendix"),
    ('out of scope [§2.2] ""', "say why"),
])
def test_out_of_scope_must_name_a_clause_with_a_reason(library: Path, declaration: str, message: str) -> None:
    text = DEMO.replace('out of scope [§2.2] "record keeping is an administrative duty, not a decision about a case"',
                        declaration)
    (library / "demo" / "1.writ").write_text(text)
    with pytest.raises(PolicyError) as caught:
        Library(library).load("demo", "1")
    d = caught.value.diagnostics[0]
    assert message in d.message and d.span.line == _line(text, "out of scope")


def test_out_of_scope_twice_is_an_error_and_lint_checks_it_against_the_source(library: Path) -> None:
    text = DEMO.replace("outputs:", 'out of scope [§2.2] "again"\nout of scope [§7.7] "no such"\n\noutputs:')
    (library / "demo" / "1.writ").write_text(text)
    with pytest.raises(PolicyError, match="declared twice"):
        Library(library).load("demo", "1")
    (library / "demo" / "1.writ").write_text(text.replace('out of scope [§2.2] "again"\n', ""))
    found = lint_library(Library(library), ["demo"], library / "sources")
    assert ("unknown-section", _line(text, "[§7.7]") - 1) in {(d.code, d.span.line) for d in found}


# ------------------------------------------------------------ writ coverage


def test_what_the_tests_exercised(library: Path) -> None:
    [report] = coverage_reports(load_policy(library, "demo"))
    seen = {(i.kind, i.definition, i.label or ""): sorted(i.seen) for i in report.items}
    assert seen == {
        ("definition", "overtime", "worked overtime"): ["computed"],
        ("condition", "overtime", ""): ["failed", "held"],                 # the rule's whole `all of`
        ("condition", "overtime", "more than 40 hours"): ["failed", "held"],
        ("condition", "overtime", "not a senior grade"): ["held"],         # never reached failing: 10 hours stops first
        ("definition", "rate", "the rate"): ["computed"],
        ("exception", "rate", "seniors are paid plain time"): ["not applied"],
        ("when", "rate", "double time"): ["taken"],
        ("otherwise", "rate", "plain time"): ["taken"],
        ("definition", "band", "the band"): ["computed"],
        ("row", "band", "under 20"): ["taken"],
        ("row", "band", "20 to 39"): [],
        ("otherwise", "band", "40 or more"): ["taken"],
    }
    assert (report.tally("conditions").covered, report.tally("conditions").total) == (5, 6)
    assert (report.tally().covered, report.tally().total) == (13, 16) and report.cases == 2


def test_source_coverage_statuses_instruments_and_warnings(library: Path) -> None:
    [report] = coverage_reports(load_policy(library, "demo"))
    assert report.source is not None
    status = {c.clause.cite: c.status for c in report.source.clauses}
    assert status == {"§1": "not encoded", "§2.1 Overtime": "encoded", "§2.1 Bank Holidays": "encoded",
                      "§2.2": "out of scope"}
    overtime = next(c for c in report.source.clauses if c.clause.cite == "§2.1 Overtime")
    assert {s.kind for s in overtime.cited_by} == {"rule", "condition", "table", "row", "otherwise", "exception"}
    assert list(report.instruments) == ["ERA 1996 s.80F(4)"]
    assert [(d.code, d.span.line) for d in report.warnings] == [("unknown-section", _line(DEMO, "[§9.9]"))]


def test_the_gate_and_the_json_shape(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coverage", str(library / "demo"), "--fail-under", "80"]) == 0
    out = capsys.readouterr().out
    assert "+ §2.1 Overtime" in out and "o §2.2" in out and "- §1" in out
    assert f"demo/1.writ:{_line(DEMO, '20 to 39')}:3: row of `band` \"20 to 39\": never taken" in out
    assert main(["coverage", str(library / "demo"), "--fail-under", "90"]) == 1
    assert "under 90" in capsys.readouterr().err
    assert main(["coverage", str(library), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    schema = json.loads((ROOT / "docs" / "coverage.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["reports"][0]["tests"]["summary"]["total"] == {"covered": 13, "total": 16, "percent": 81.2}
    assert data["documents"][0]["summary"] == {"clauses": 4, "encoded": 2, "out_of_scope": 1, "not_encoded": 1}
    assert main(["coverage", str(library), "--format", "md"]) == 0
    assert "| §2.2 |" in capsys.readouterr().out


# ------------------------------------------------------------ writ cites


def test_cites_finds_sections_subsections_and_provisions(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cites", "§2", "--policies", str(library)]) == 0
    out = capsys.readouterr().out
    assert f"demo/1.writ:{_line(DEMO, 'when duty.bank_holiday')}:" in out and "when of `rate`" in out
    assert "declared out of scope" in out
    assert main(["cites", "§2.1 Bank Holidays", "--policies", str(library), "--format", "json"]) == 0
    sites = json.loads(capsys.readouterr().out)["sites"]
    assert [(s["kind"], s["line"]) for s in sites] == [("when", _line(DEMO, "when duty.bank_holiday"))]
    assert main(["cites", "§3", "--policies", str(library)]) == 1
    assert main(["cites", "§1; §2", "--policies", str(library)]) == 2


def test_matching_a_clause() -> None:
    assert matches("§3.3.1; ERA 1996 s.80F(4)", "§3.3") == ["§3.3.1"]
    assert matches("§3.30", "§3.3") == [] and matches("App C 9.1 Pensions", "App C 9.1") == ["App C 9.1 Pensions"]
    assert matches("App C 9.1 Pensions", "App C 9.1 Overtime Rates") == []
    assert matches("App C 9.1", "App C 9.1 Pensions") == []  # the whole section is not that headed part
    assert matches("ERA 1996 s.80F(4)(a)", "ERA 1996 s.80F") == ["ERA 1996 s.80F(4)(a)"]
    assert matches("ERA 1996 s.80G(1)", "ERA 1996 s.80") == []
    assert matches("SI 2002/3236 reg 3(1)(b); reg 3B", "SI 2002/3236 reg 3B") == ["SI 2002/3236 reg 3B"]
    assert matches("ERA 1996 s.80G as amended by CFA 2014 s.132", "CFA 2014 s.132") != []


@given(st.lists(st.integers(1, 12), min_size=1, max_size=4), st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_a_section_matches_exactly_its_subsections(cited: list[int], asked: list[int]) -> None:
    a, q = ".".join(map(str, cited)), ".".join(map(str, asked))
    assert bool(matches(f"§{a}", f"§{q}")) == (cited[:len(asked)] == asked)


# ------------------------------------------------------------ explanations, and the shipped library


def test_an_explanation_lists_the_clauses_it_rested_on(library: Path, capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"duty": {"hours": 45, "bank_holiday": True, "grade": "junior"}}))
    assert main(["explain", str(library / "demo"), "-i", str(facts)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "clauses: §2.1 Overtime; §9.9; §2.1; §2.1 Bank Holidays"  # the summary, and the tree:
    assert main(["explain", str(library / "demo"), "-i", str(facts), "--full"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == lines[1]


def test_every_clause_of_the_shipped_sources_is_encoded_or_out_of_scope() -> None:
    maps = document_maps(library_context(Library(ROOT / "policies")))
    assert [m.document for m in maps] == ["flexible-working-policy.txt", "positive-action-recruitment.txt"]
    for m in maps:
        assert [c.clause.cite for c in m.clauses if c.status == "not encoded"] == [], m.document
        assert all(c.reason for c in m.clauses if c.status == "out of scope")
