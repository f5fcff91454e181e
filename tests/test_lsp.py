"""The language server, driven over stdio as an editor would: diagnostics, hover, definition, formatting."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

pytest.importorskip("pygls")

ROOT = Path(__file__).parent.parent
SOURCES = ROOT.parent / "shared" / "sources"
TIMEOUT = 20


class Client:
    """A minimal LSP client: Content-Length framed JSON-RPC over the server's stdin/stdout."""

    def __init__(self, cwd: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "writ.cli", "lsp"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "WRIT_SOURCES": str(SOURCES)})
        self.messages: Queue[dict[str, Any]] = Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                chunk = out.read(1)
                if not chunk:
                    return
                header += chunk
            length = int(next(h for h in header.decode().split("\r\n") if h.startswith("Content-Length")).split(":")[1])
            self.messages.put(json.loads(out.read(length)))

    def send(self, method: str, params: Any, request: bool = True) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return message.get("id")

    def wait(self, match: Any) -> dict[str, Any]:
        while True:
            try:
                message = self.messages.get(timeout=TIMEOUT)
            except Empty:
                raise AssertionError("the server did not answer in time") from None
            if match(message):
                return message

    def request(self, method: str, params: Any) -> Any:
        ident = self.send(method, params)
        return self.wait(lambda m: m.get("id") == ident)["result"]

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.send("exit", None, request=False)
            self.proc.wait(timeout=5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("tests"))
    return tmp_path / "policies"


@pytest.fixture
def client(workspace: Path) -> Any:
    c = Client(ROOT)
    c.request("initialize", {"processId": None, "rootUri": workspace.as_uri(), "capabilities": {}})
    c.send("initialized", {}, request=False)
    yield c
    c.close()


def _open(client: Client, path: Path, text: str) -> list[dict[str, Any]]:
    uri = path.as_uri()
    client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "writ", "version": 1,
                                                          "text": text}}, request=False)
    note = client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri)
    return note["params"]["diagnostics"]  # type: ignore[no-any-return]


def test_diagnostics_hover_definition_and_formatting(client: Client, workspace: Path) -> None:
    path = workspace / "tvp-flexible-working" / "2007-04-06.writ"
    text = path.read_text()
    broken = text.replace('    statute.statutory_eligible "', '    statute.statutory_eligble "')
    diagnostics = _open(client, path, broken)
    assert any("statutory_eligble" in d["message"] and d["severity"] == 1 for d in diagnostics)
    line = next(i for i, x in enumerate(broken.splitlines()) if "statutory_eligble" in x)
    assert any(d["range"]["start"]["line"] == line for d in diagnostics)

    assert _open(client, path, text) == []
    lines = text.splitlines()
    row = next(i for i, x in enumerate(lines) if x.startswith("  when statutory_eligible"))
    use = lines[row].index("statutory_eligible")
    hover = client.request("textDocument/hover", {"textDocument": {"uri": path.as_uri()},
                                                  "position": {"line": row, "character": use + 2}})
    value = hover["contents"]["value"]
    assert "**rule** `statutory_eligible`: `bool`" in value
    assert "[§3.2; §3.3]" in value
    if SOURCES.is_dir():
        assert "ELIGIBILITY" in value  # the clause text (§3.2, the first cited)

    ref = next(i for i, x in enumerate(lines) if x.startswith("    statute_2003.child_route"))
    col = lines[ref].index("statute_2003.child_route")
    where = client.request("textDocument/definition", {"textDocument": {"uri": path.as_uri()},
                                                       "position": {"line": ref, "character": col + 10}})
    assert where["uri"].endswith("uk-flexible-working/2003-04-06.writ")
    target = (workspace / "uk-flexible-working" / "2003-04-06.writ").read_text().splitlines()
    assert target[where["range"]["start"]["line"]].startswith("rule child_route")

    found = client.request("textDocument/references", {"textDocument": {"uri": path.as_uri()},
                                                       "position": {"line": ref, "character": col + 10},
                                                       "context": {"includeDeclaration": False}})
    assert any(r["uri"].endswith("tvp-flexible-working/2007-04-06.writ") for r in found)
    assert any(r["uri"].endswith("uk-flexible-working/2003-04-06.writ") for r in found)

    items = client.request("textDocument/completion", {"textDocument": {"uri": path.as_uri()},
                                                       "position": {"line": 0, "character": 0}})
    labels = {i["label"] for i in items["items"]}
    assert {"statute.adult_route", "route", "person.employed", '"officer"'} <= labels

    messy = text.replace("outputs: statutory_eligible, route", "outputs:  statutory_eligible ,route")
    _open(client, path, messy)
    edits = client.request("textDocument/formatting", {"textDocument": {"uri": path.as_uri()},
                                                       "options": {"tabSize": 2, "insertSpaces": True}})
    assert edits[0]["newText"] == text


def test_a_syntax_error_is_a_diagnostic_not_a_crash(client: Client, workspace: Path) -> None:
    path = workspace / "uk-flexible-working" / "2024-04-06.writ"
    diagnostics = _open(client, path, 'policy "uk-flexible-working":\n  title "x"\nrule r:\n  1 +\n')
    assert diagnostics and diagnostics[0]["code"] == "syntax"


def test_a_keystroke_rechecks_the_document_not_the_library(tmp_path: Path) -> None:
    """The library on disk is loaded once per root and kept; an edit is checked against it through the loader;
    a save makes the documents that rest on the saved policy see the change."""
    import shutil

    from writ.lsp import Libraries, analyse, depends_on

    root = tmp_path / "policies"
    shutil.copytree(Path(__file__).resolve().parent.parent / "policies", root)
    libraries = Libraries()
    force = root / "tvp-flexible-working" / "2007-04-06.writ"
    text = force.read_text(encoding="utf-8")
    first = analyse(force, text, libraries)
    assert first.library is libraries.library(root) and not [d for d in first.diagnostics if d.severity == "error"]
    broken = analyse(force, text.replace("person.employed", "person.employd", 1), libraries)
    assert broken.library is first.library  # the same library: nothing on disk was read again
    assert any("`person.employd` is not defined" in d.message for d in broken.diagnostics)
    assert depends_on(first, "uk-flexible-working") and not depends_on(first, "positive-action-recruitment")
    libraries.saved(root / "uk-flexible-working" / "2024-04-06.writ")
    assert libraries.library(root) is not first.library
