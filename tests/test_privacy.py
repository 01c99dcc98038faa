"""Privacy audit: what Deadpan writes, whom it connects to, and what it logs, checked on real runs.

HOME and the XDG folders point at empty temporary folders; Python's audit hooks (``sys.addaudithook``) record
every file opened for writing and every socket connection attempted in this process during the run. The
engine runs for real (``deadpan process`` in-process, and the live pipeline to the capturing virtual camera).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import cv2
import pytest

from app import cli
from app.model_store import MODEL_URL, ModelError, resolve_model
from app.pipeline import Pipeline, PipelineSettings
from app.settings_store import AppSettings, SettingsStore
from app.sinks import VirtualCameraSink
from app.sources import VideoFileSource
from tests.capture_backend import BACKEND_NAME, register

from .conftest import MEDIA, MODEL
from .helpers import read_frames

CLIP = MEDIA / "liveportrait_d0.mp4"  # 78 frames
# A dump of frame pixels, landmarks or blendshapes: a long run of numbers, or numpy's array repr.
NUMBER_DUMP = re.compile(r"(?:-?\d+(?:\.\d+)?(?:e-?\d+)?[\s,;\]\[]+){12,}|array\(|\[\[")


class _Audit:
    """Collects audit events while ``active``: files opened for writing and network connections."""

    def __init__(self) -> None:
        self.active = False
        self.writes: list[str] = []
        self.connections: list[tuple] = []
        self.lookups: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (args + (None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & 0o3  # O_WRONLY / O_RDWR
            )
            if writing and not isinstance(path, int):  # an int is an already-open descriptor (os.fdopen)
                with self._lock:
                    self.writes.append(str(path))
        elif event == "socket.connect":
            with self._lock:
                self.connections.append(args[1])
        elif event == "socket.getaddrinfo":
            with self._lock:
                self.lookups.append(str(args[0]))


AUDIT = _Audit()
sys.addaudithook(AUDIT)  # hooks cannot be removed; it does nothing unless a test activates it


@contextmanager
def audited() -> Iterator[_Audit]:
    AUDIT.writes.clear()
    AUDIT.connections.clear()
    AUDIT.lookups.clear()
    AUDIT.active = True
    try:
        yield AUDIT
    finally:
        AUDIT.active = False


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> dict[str, Path]:
    """HOME, the XDG folders and TMPDIR as empty folders; returns them by name."""
    dirs = {}
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "TMPDIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
        dirs[name] = folder
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    dirs["cwd"] = work
    return dirs


def files_under(folders) -> set[Path]:
    return {p for folder in folders for p in Path(folder).rglob("*") if p.is_file()}


@pytest.fixture
def captured_logs():
    """Every log record of every logger at DEBUG, while the test runs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def assert_no_frame_data(text: str) -> None:
    match = NUMBER_DUMP.search(text)
    assert match is None, f"numeric dump in the logs: {text[max(0, match.start() - 80) : match.end() + 80]!r}"


def test_process_writes_only_the_output_and_connects_nowhere(fresh_home, captured_logs, capfd):
    output = fresh_home["cwd"] / "out.mp4"
    with audited() as audit:
        status = cli.main(["process", str(CLIP), "-o", str(output), "--model", str(MODEL), "--filter", "pixelate"])
    err = capfd.readouterr().err
    assert status == 0, err
    assert files_under(fresh_home.values()) == {output}
    assert output.stat().st_size > 10_000
    assert audit.connections == [] and audit.lookups == []
    outside = [w for w in audit.writes if not w.startswith(str(output.parent))]
    assert outside == [], f"files opened for writing besides the output: {outside}"
    assert_no_frame_data(err)
    assert_no_frame_data("\n".join(r.getMessage() for r in captured_logs))


def test_process_stats_file_only_when_asked(fresh_home, capfd):
    still = fresh_home["cwd"] / "still.png"
    cv2.imwrite(str(still), read_frames(CLIP, 1)[0])
    output, stats = fresh_home["cwd"] / "out.png", fresh_home["cwd"] / "timings.json"
    with audited() as audit:
        status = cli.main(["process", str(still), "-o", str(output), "--model", str(MODEL), "--stats", str(stats)])
    assert status == 0, capfd.readouterr().err
    assert files_under(fresh_home.values()) == {still, output, stats}
    assert audit.connections == [] and audit.lookups == []
    text = stats.read_text().lower()  # per-stage timings only: no landmarks, no blendshapes, no pixels
    assert "landmark" not in text and "blendshape" not in text
    assert len(json.dumps(json.loads(text))) < 5000


def test_live_pipeline_writes_nothing_connects_nowhere_logs_no_frames(fresh_home, captured_logs, capfd):
    """The live engine, with faults that make it log (a sink failing, a stall), writes no file at all."""
    backend = register()
    sink = VirtualCameraSink(backend=BACKEND_NAME)
    source = VideoFileSource(CLIP, realtime=True)  # paced like a camera: the output stage keeps up
    backend.fail_sends = 3  # the driver refuses a few frames: the engine logs its retries
    with audited() as audit:
        pipeline = Pipeline(source, [sink], PipelineSettings(filter_name="blur"), model_path=MODEL)
        pipeline.start()
        assert pipeline.wait(60.0)
        pipeline.stop()
    assert len(backend.received_bgr()) > 30
    assert files_under(fresh_home.values()) == set()
    assert audit.writes == [] and audit.connections == [] and audit.lookups == []
    messages = "\n".join(r.getMessage() for r in captured_logs)
    assert any(r.levelno >= logging.WARNING for r in captured_logs), "the sink failures should have been logged"
    assert_no_frame_data(messages)
    assert_no_frame_data(capfd.readouterr().err)


def test_settings_and_model_cache_go_only_where_expected(fresh_home):
    store = SettingsStore()
    with audited() as audit:
        store.save(AppSettings(filter_name="blur"))
    written = files_under(fresh_home.values())
    folder = fresh_home["XDG_CONFIG_HOME"] / "deadpan"
    assert written == {folder / "settings.json"}
    # The audit hook sees Python-level writes (here the settings' temporary file), so its silence elsewhere counts.
    assert audit.writes and all(w.startswith(str(folder)) for w in audit.writes)
    assert "landmark" not in written.pop().read_text()


def test_the_only_connection_is_the_model_download(fresh_home, monkeypatch):
    """No model anywhere: the one network attempt is the official model URL's host (offline here, so it
    fails with a clear message), and a failed download leaves no partial file behind."""
    monkeypatch.delenv("DEADPAN_MODEL", raising=False)
    with audited() as audit, pytest.raises(ModelError) as error:
        resolve_model(None)
    host = urlparse(MODEL_URL).hostname
    assert audit.lookups and set(audit.lookups) == {host}
    assert all(address[0] != "" for address in audit.connections)
    assert "\n" not in str(error.value)
    assert files_under(fresh_home.values()) == set()


def test_desktop_app_writes_only_its_settings(fresh_home, qtbot, captured_logs):
    """The real window over the real engine for a few seconds with a calibration: afterwards the only file
    under HOME and the XDG folders is the settings file; no connection was attempted."""
    from .gui_harness import make_settings, make_window, settle, start_window, wait_for_face

    with audited() as audit:
        window, session, _ = make_window(None, make_settings(filter_name="neutralise"))
        start_window(qtbot, window, session)
        wait_for_face(qtbot, session)
        settle(qtbot, 1.0)
        window.close()
    written = files_under(fresh_home.values())
    assert written == {fresh_home["XDG_CONFIG_HOME"] / "deadpan" / "settings.json"}, sorted(map(str, written))
    assert audit.connections == [] and audit.lookups == []
    assert_no_frame_data("\n".join(r.getMessage() for r in captured_logs))
