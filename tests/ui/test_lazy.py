"""The plugin's stand-in app: nothing is imported until the first request, then the real app serves."""

from __future__ import annotations

import sys

from fastapi.testclient import TestClient

from agentjobs.ui.lazy import LazyApp

MODULE = "lazy_target_app"
APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello():
    return {"said": "hello"}
"""


def test_the_real_app_is_imported_at_the_first_request_and_kept(tmp_path, monkeypatch):
    (tmp_path / f"{MODULE}.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    lazy = LazyApp(f"{MODULE}:app")
    assert MODULE not in sys.modules  # building the plugin imports nothing
    http = TestClient(lazy)
    assert http.get("/hello").json() == {"said": "hello"}
    assert lazy.load() is sys.modules[MODULE].app
    # Kept: the next request imports nothing again (an import now would fail).
    (tmp_path / f"{MODULE}.py").write_text("raise RuntimeError('imported twice')\n")
    monkeypatch.delitem(sys.modules, MODULE)
    assert http.get("/hello").json() == {"said": "hello"}
