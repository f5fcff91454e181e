"""The parse cache: a hit gives the same tree as parsing, any change is a miss, a broken cache costs only a parse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from writ.dsl import cache, cachedir
from writ.dsl.cache import parse_cached
from writ.dsl.errors import PolicyError
from writ.dsl.parser import parse

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "positive-action-recruitment" / "2016-11-01.writ"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WRIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("WRIT_NO_CACHE", raising=False)
    return tmp_path


def entries(directory: Path) -> list[Path]:
    return sorted((directory / "trees").glob("*.json"))


def test_a_hit_gives_the_parsed_tree_with_its_spans(cache_dir: Path) -> None:
    text = POLICY.read_text(encoding="utf-8")
    first = parse_cached(text, str(POLICY))
    assert len(entries(cache_dir)) == 1
    again = parse_cached(text, str(POLICY))
    assert again == parse(text, str(POLICY)) == first
    assert again.header.span == first.header.span and again.header.span.file == str(POLICY)


def test_another_text_or_file_name_is_a_miss(cache_dir: Path) -> None:
    text = POLICY.read_text(encoding="utf-8")
    parse_cached(text, "a.writ")
    edited = parse_cached(text.replace('title "', 'title "Edited: ', 1), "a.writ")
    assert (edited.header.title or "").startswith("Edited: ")
    renamed = parse_cached(text, "b.writ")
    assert renamed.header.span.file == "b.writ"
    assert len(entries(cache_dir)) == 3


def test_a_corrupt_entry_is_parsed_again(cache_dir: Path) -> None:
    text = POLICY.read_text(encoding="utf-8")
    parse_cached(text, "a.writ")
    (entry,) = entries(cache_dir)
    entry.write_bytes(b"not json")
    assert parse_cached(text, "a.writ") == parse(text, "a.writ")
    entry.write_bytes(entry.read_bytes()[:0])
    assert parse_cached(text, "a.writ") == parse(text, "a.writ")


def test_errors_are_never_cached(cache_dir: Path) -> None:
    for _ in range(2):
        with pytest.raises(PolicyError, match="syntax"):
            parse_cached("policy \"x\":\n  title\n", "bad.writ")
    assert entries(cache_dir) == []


def test_off_switch_and_unwritable_directory(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = POLICY.read_text(encoding="utf-8")
    monkeypatch.setenv("WRIT_NO_CACHE", "1")
    assert parse_cached(text, "a.writ") == parse(text, "a.writ")
    assert entries(cache_dir) == []
    monkeypatch.delenv("WRIT_NO_CACHE")
    blocker = cache_dir / "file"
    blocker.write_text("")
    monkeypatch.setenv("WRIT_CACHE_DIR", str(blocker / "below"))  # cannot be made: a file is in the way
    assert parse_cached(text, "a.writ") == parse(text, "a.writ")


def test_the_cache_keeps_the_newest_entries_only(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_TREES", 6)
    text = POLICY.read_text(encoding="utf-8")
    for i in range(10):
        parse_cached(text, f"{i}.writ")
    assert 3 <= len(entries(cache_dir)) <= 6


def test_a_warm_eval_does_not_import_lark(cache_dir: Path) -> None:
    """The point of the cache: `writ eval` on unchanged policies never loads the parser generator."""
    script = ("import sys, json, writ\n"
              "p = writ.load('uk-flexible-working')\n"
              "p.evaluate(json.load(open('examples/flexible-working-case.json')))\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('lark', 'networkx'))))\n")
    env = {**os.environ, "WRIT_CACHE_DIR": str(cache_dir)}
    runs = [subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True) for _ in range(2)]
    assert "lark" in json.loads(runs[0].stdout)  # cold: parsed
    assert json.loads(runs[1].stdout) == []  # warm: neither Lark nor networkx


SOURCES = sorted((ROOT / "policies").glob("*/*.writ")) + sorted((ROOT / "tests" / "fixtures").rglob("*.writ"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_an_entry_gives_back_the_very_tree_spans_included(path: Path) -> None:
    tree = parse(path.read_text(encoding="utf-8"), str(path))
    back = cache._decode(json.loads(json.dumps(cache._encode(tree, str(path)))), str(path))
    assert back == tree and cache._encode(back, str(path)) == cache._encode(tree, str(path))


@pytest.mark.parametrize("entry", [
    {"PolicyFile": [{"os.system": ["echo hi"]}, [], {"Span": [1, 1, 1, 1, 0, 0]}]},  # a name outside the AST
    {"Binary": ["+"]},  # too few fields
    {"date": "2020-13-45"},
    {"int": "9" * 5000},
    [[[[[]]]]],
])
def test_an_entry_can_only_ever_make_ast_nodes(cache_dir: Path, entry: object) -> None:
    """Reading an entry builds the AST's own dataclasses from plain JSON; anything else is a miss, then a parse."""
    text = POLICY.read_text(encoding="utf-8")
    parse_cached(text, "a.writ")
    (path,) = entries(cache_dir)
    path.write_text(json.dumps(entry))
    assert parse_cached(text, "a.writ") == parse(text, "a.writ")


def test_a_cache_others_can_write_is_not_used(cache_dir: Path, caplog: pytest.LogCaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone who can write the cache could plant a tree that changes what a policy means."""
    monkeypatch.setattr(cachedir, "_warned", False)
    text = POLICY.read_text(encoding="utf-8")
    planted = parse(text.replace('title "', 'title "Planted: ', 1), "a.writ")
    parse_cached(text, "a.writ")
    (entry,) = entries(cache_dir)
    entry.write_text(json.dumps(cache._encode(planted, "a.writ")))
    assert (parse_cached(text, "a.writ").header.title or "").startswith("Planted: ")  # (what a planted entry does)
    for target in (entry, cache_dir / "trees", cache_dir):
        target.chmod(0o666 if target.is_file() else 0o777)
        assert parse_cached(text, "a.writ") == parse(text, "a.writ")
        assert not (parse_cached(text, "a.writ").header.title or "").startswith("Planted: ")
        target.chmod(0o600 if target.is_file() else 0o700)
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1  # one warning, not one per read
    assert "not using the cache" in caplog.records[0].message


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file away needs root")
def test_a_cache_owned_by_another_user_is_not_used(cache_dir: Path) -> None:
    text = POLICY.read_text(encoding="utf-8")
    parse_cached(text, "a.writ")
    (entry,) = entries(cache_dir)
    entry.write_text(json.dumps(cache._encode(parse(text.replace('title "', 'title "Planted: ', 1), "a.writ"),
                                              "a.writ")))
    os.chown(entry, 65534, 65534)
    assert parse_cached(text, "a.writ") == parse(text, "a.writ")
    assert not (parse_cached(text, "a.writ").header.title or "").startswith("Planted: ")
