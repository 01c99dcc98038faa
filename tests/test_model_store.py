"""Model resolution, verification and the download path, against a local HTTP server (no internet here)."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import socket
import threading
from pathlib import Path

import pytest

from app import model_store
from app.model_store import (
    ENV_VAR,
    MODEL_SHA256,
    MODEL_SIZE,
    DownloadCancelled,
    ModelError,
    cached_model_path,
    resolve_model,
    terminal_progress,
    verify_model,
)

from .conftest import MODEL, ROOT

MODEL_BYTES = MODEL.read_bytes()


@contextlib.contextmanager
def serving(payload: bytes, declared_length: int | None = None):
    """Serve ``payload`` at http://127.0.0.1:PORT/face_landmarker.task; counts requests."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            hits.append(self.path)
            if self.path != "/face_landmarker.task":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(declared_length if declared_length is not None else len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/face_landmarker.task", hits
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/face_landmarker.task"


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_manifest_matches_code_constants():
    manifest = json.loads((ROOT / "assets" / "model.json").read_text())
    assert manifest["url"] == model_store.MODEL_URL
    assert manifest["sha256"] == MODEL_SHA256
    assert manifest["size"] == MODEL_SIZE
    assert manifest["file_name"] == model_store.MODEL_FILENAME


def test_shared_model_verifies():
    verify_model(MODEL)  # the real official file passes


def test_verify_rejects_truncated_and_corrupt(tmp_path):
    truncated = tmp_path / "truncated.task"
    truncated.write_bytes(MODEL_BYTES[:-100])
    with pytest.raises(ModelError, match="truncated"):
        verify_model(truncated)
    corrupt = tmp_path / "corrupt.task"
    corrupt.write_bytes(MODEL_BYTES[:1000] + bytes([MODEL_BYTES[1000] ^ 0xFF]) + MODEL_BYTES[1001:])
    with pytest.raises(ModelError, match="SHA-256"):
        verify_model(corrupt)
    with pytest.raises(ModelError, match="not found"):
        verify_model(tmp_path / "absent.task")


def test_explicit_path_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nonexistent.task"))
    assert resolve_model(MODEL, download=False) == MODEL


def test_missing_explicit_path_says_what_to_do(tmp_path):
    with pytest.raises(ModelError) as info:
        resolve_model(tmp_path / "nope.task", download=False)
    message = str(info.value)
    assert "nope.task" in message and model_store.MODEL_URL in message and ENV_VAR in message
    assert "\n" not in message


def test_explicit_file_that_is_not_a_model(tmp_path):
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ModelError, match="not a Face Landmarker model"):
        resolve_model(junk)


def test_env_variable_used_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(MODEL))
    assert resolve_model(download=False, cache_dir=tmp_path) == MODEL
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone.task"))
    with pytest.raises(ModelError, match=ENV_VAR):
        resolve_model(download=False, cache_dir=tmp_path)


def test_nothing_found_without_download(tmp_path, no_env):
    with pytest.raises(ModelError) as info:
        resolve_model(download=False, cache_dir=tmp_path)
    assert str(cached_model_path(tmp_path)) in str(info.value)


def test_download_once_then_cached(tmp_path, no_env):
    seen = []
    with serving(MODEL_BYTES) as (url, hits):
        path = resolve_model(url=url, cache_dir=tmp_path, progress=lambda done, total: seen.append((done, total)))
        assert path == cached_model_path(tmp_path)
        verify_model(path)
        again = resolve_model(url=url, cache_dir=tmp_path)
    assert again == path and len(hits) == 1  # the second call used the cache
    assert seen[0] == (0, MODEL_SIZE) and seen[-1] == (MODEL_SIZE, MODEL_SIZE)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    assert leftovers(tmp_path) == ["face_landmarker.task"]


def test_damaged_cache_is_replaced_by_a_fresh_download(tmp_path, no_env):
    cached = cached_model_path(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(MODEL_BYTES[:5000])
    with pytest.raises(ModelError, match="truncated"):
        resolve_model(download=False, cache_dir=tmp_path)
    with serving(MODEL_BYTES) as (url, _):
        assert resolve_model(url=url, cache_dir=tmp_path) == cached
    verify_model(cached)


@pytest.mark.parametrize(
    "payload, declared, expected",
    [
        (MODEL_BYTES[: MODEL_SIZE // 2], MODEL_SIZE // 2, "incomplete"),  # truncated by the server
        (MODEL_BYTES[: MODEL_SIZE // 2], MODEL_SIZE, "could not download|incomplete"),  # connection dropped mid-way
        (MODEL_BYTES[:-1] + bytes([MODEL_BYTES[-1] ^ 1]), None, "SHA-256"),  # same size, wrong bytes
        (MODEL_BYTES + b"extra", None, "incomplete or wrong"),  # too long
    ],
)
def test_bad_download_leaves_nothing(tmp_path, no_env, payload, declared, expected):
    with serving(payload, declared) as (url, _), pytest.raises(ModelError, match=expected) as info:
        resolve_model(url=url, cache_dir=tmp_path)
    assert model_store.MODEL_URL in str(info.value) and ENV_VAR in str(info.value)  # the way out
    assert leftovers(tmp_path) == []


def test_no_network_gives_clear_error(tmp_path, no_env):
    with pytest.raises(ModelError) as info:
        resolve_model(url=closed_port_url(), cache_dir=tmp_path)
    message = str(info.value)
    assert "could not download" in message and "network" in message and str(cached_model_path(tmp_path)) in message
    assert leftovers(tmp_path) == []


def test_http_error_status(tmp_path, no_env):
    with serving(MODEL_BYTES) as (url, _), pytest.raises(ModelError, match="404"):
        resolve_model(url=url.replace("face_landmarker.task", "missing.task"), cache_dir=tmp_path)
    assert leftovers(tmp_path) == []


def test_cancel_during_download(tmp_path, no_env):
    cancel = threading.Event()

    def cancel_after_first_chunk(done, total):
        if done > 0:
            cancel.set()

    with serving(MODEL_BYTES) as (url, _), pytest.raises(DownloadCancelled):
        resolve_model(url=url, cache_dir=tmp_path, progress=cancel_after_first_chunk, cancel=cancel)
    assert leftovers(tmp_path) == []


def test_terminal_progress_draws_one_line():
    out = io.StringIO()
    show = terminal_progress(out)
    for done in (0, 1_000_000, 1_000_001, MODEL_SIZE):
        show(done, MODEL_SIZE)
    text = out.getvalue()
    assert text.count("\r") == 3  # the repeat at the same percent is not redrawn
    assert text.endswith("100% (3.8/3.8 MB)\n")


def test_error_keeps_problem_and_fix_apart(tmp_path):
    with pytest.raises(ModelError) as info:
        resolve_model(tmp_path / "nope.task")
    error = info.value
    assert error.problem == f"face model not found at {tmp_path / 'nope.task'}"
    assert ENV_VAR in error.fix and str(error) == f"{error.problem}: {error.fix}"
    assert str(ModelError("plain")) == "plain"
