"""The Session model without any Qt: the real engine, a real clip as the camera, real camera listing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.session import Session
from app.settings_store import AppSettings
from app.sinks import VirtualCameraSink
from app.sources.listing import list_cameras
from filters.base import NUM_LANDMARKS
from filters.neutralise import NeutralReference

from .capture_backend import BACKEND_NAME, register
from .conftest import MEDIA, MODEL
from .helpers import read_frames
from .pipeline_doubles import ListSource

CLIP = MEDIA / "liveportrait_d0.mp4"


def wait(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def fake_sysfs(root: Path, cameras: dict[int, str]) -> Path:
    for number, name in cameras.items():
        node = root / f"video{number}"
        node.mkdir(parents=True, exist_ok=True)
        (node / "name").write_text(name + "\n")
        (node / "index").write_text("0\n")
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def session():
    register()
    made = []

    def make(settings: AppSettings, **kw) -> Session:
        kw.setdefault("virtual_camera", lambda: VirtualCameraSink(backend=BACKEND_NAME))
        kw.setdefault("list_cameras", lambda: [])
        made.append(Session(settings, model_path=MODEL, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_no_camera_is_a_state_not_an_error(session):
    s = session(AppSettings())
    seen = []
    s.events.source.connect(seen.append)
    s.start()
    assert s.source_state.state == "none" and "No camera found" in s.source_state.message
    assert seen == [s.source_state] and not s.running and s.pipeline is None
    state = s.start_virtual_camera()
    assert state.state == "failed" and "first" in state.message  # says what to do, no traceback


def test_a_remembered_video_file_that_is_gone_is_named_as_a_missing_file_not_a_camera(session, tmp_path):
    gone = tmp_path / "demo.mp4"  # used last time, since moved or deleted
    s = session(AppSettings(camera=str(gone)))  # and no camera to fall back to
    s.start()
    state = s.source_state
    assert state.state == "failed" and not s.running
    assert "the file is not in" in state.message and "camera" not in state.message, state.message
    assert state.message.count("demo.mp4") == 1, state.message  # named once, by its file name
    assert s.settings.camera == str(gone)  # still remembered: it may come back (a USB stick)
    # With a camera plugged in, a gone file is passed over for it, as a gone camera is.
    sysfs = fake_sysfs(tmp_path / "video4linux", {0: "Webcam"})
    opened = []
    s = session(
        AppSettings(camera=str(gone)),
        list_cameras=lambda: list_cameras(sysfs_root=sysfs, dev_root=tmp_path / "dev"),
        open_source=lambda spec, *_: opened.append(spec) or ListSource(read_frames(CLIP, 3)),
    )
    s.start()
    assert opened == ["0"]


def test_plugging_a_camera_in_is_noticed_and_tried(session, tmp_path):
    sysfs = fake_sysfs(tmp_path / "video4linux", {})
    s = session(AppSettings(), list_cameras=lambda: list_cameras(sysfs_root=sysfs, dev_root=tmp_path / "dev"))
    lists, sources = [], []
    s.events.cameras.connect(lists.append)
    s.events.source.connect(sources.append)
    s.start()
    assert s.cameras == [] and s.source_state.state == "none"
    fake_sysfs(sysfs, {0: "Integrated Webcam"})
    s.refresh_cameras()
    assert [c.name for c in lists[-1]] == ["Integrated Webcam"]
    # It is opened at once (on the session's worker); this fake device cannot deliver, so the failure is a state
    # with a message.
    assert wait(lambda: sources[-1].state == "failed") and "Could not open" in sources[-1].message
    s.refresh_cameras()
    assert len(lists) == 1  # no event when nothing changed
    (sysfs / "video0" / "name").unlink()
    (sysfs / "video0" / "index").unlink()
    (sysfs / "video0").rmdir()
    s.refresh_cameras()
    assert lists[-1] == []


def test_choices_reach_the_running_engine_and_are_remembered(session):
    saved = []
    s = session(AppSettings(camera=str(CLIP), filter_name="blur"), on_settings_changed=saved.append)
    changes, frames = [], []
    s.events.changed.connect(lambda name, value: changes.append(name))
    got_frame = threading.Event()
    s.events.frame.connect(lambda result: (frames.append(result.status.state), got_frame.set()))
    s.start()
    assert s.running and s.source_state.state == "open" and s.source_state.name == CLIP.name
    assert got_frame.wait(15)

    s.set_region_strength("mouth", 0.5)  # remembered while another filter runs, used once the neutraliser is on
    assert s.pipeline.settings.filter_options == {}
    s.set_filter("neutralise")
    s.set_strength(0.6)
    s.set_regions(["mouth", "brows"])
    s.set_keep_speech(True)
    settings = s.pipeline.settings
    assert settings.filter_name == "neutralise" and settings.strength == pytest.approx(0.6)
    assert settings.filter_options == {
        "regions": ("brows", "mouth"),
        "region_strength": {"brows": 1.0, "eyes": 1.0, "mouth": 0.5},
        "keep_speech": True,
        "keep_blinks": True,
    }
    assert s.settings.strengths == {"neutralise": 0.6} and s.settings.regions == ("brows", "mouth")
    s.set_filter("blur")
    assert s.pipeline.settings.strength == 1.0 and s.pipeline.settings.filter_options == {}
    assert wait(lambda: type(s.pipeline.filter).__name__ == "BlurFilter")
    assert changes == ["region_strength", "filter_name", "strengths", "regions", "keep_speech", "filter_name"]
    assert saved and saved[-1] is s.settings

    with pytest.raises(ValueError):
        s.set_strength(1.5)
    with pytest.raises(ValueError):
        s.set_regions(["nose"])
    with pytest.raises(ValueError):
        s.set_filter("no-such-filter")

    s.set_panic(True)
    assert s.pipeline.settings.panic and changes[-1] == "panic" and "panic" not in s.settings.__dict__
    assert wait(lambda: frames[-1] == "panic")
    s.set_panic(False)
    assert wait(lambda: frames[-1] == "face_found")


def test_a_source_that_fails_keeps_the_old_one_running(session, tmp_path):
    s = session(AppSettings(camera=str(CLIP), filter_name="blur"))
    messages = []
    s.events.message.connect(messages.append)
    s.start()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert s.set_source(str(broken)) is False
    assert s.source_state.state == "failed" and "broken.mp4" in messages[-1] and "\n" not in messages[-1]
    assert s.running and s.settings.camera == str(CLIP)


def test_virtual_camera_that_cannot_start_brings_the_doctors_findings(session):
    # No virtual-camera driver can exist on this machine: the real sink fails for real, the real doctor explains.
    s = session(AppSettings(camera=str(CLIP), filter_name="blur"), virtual_camera=lambda: VirtualCameraSink())
    s.start()
    state = s.start_virtual_camera()
    assert state.state == "failed" and state.message
    problems = [f for f in state.findings if not f.ok]
    assert problems and all(f.fix for f in problems)
    assert s.settings.virtual_camera is False and s.virtual_camera_sink is None


def test_virtual_camera_on_and_off(session):
    backend = register()
    s = session(AppSettings(camera=str(CLIP), filter_name="blur"))
    s.start()
    state = s.start_virtual_camera()
    assert state.state == "on" and state.device == "Deadpan Test Camera" and s.settings.virtual_camera
    assert wait(lambda: s.virtual_camera_sink.frames_sent >= 3)
    s.stop_virtual_camera()
    count = len(backend.received_bgr())
    time.sleep(0.3)
    assert len(backend.received_bgr()) == count and s.virtual_camera_state.state == "off"


def test_a_remembered_filter_that_no_longer_exists_falls_back():
    s = Session(AppSettings(filter_name="retired-filter"), model_path=MODEL)
    assert s.settings.filter_name == "neutralise"


def test_an_unreadable_saved_neutral_face_is_kept_aside_and_the_automatic_one_used(tmp_path):
    damaged = tmp_path / "neutral-face.npz"
    NeutralReference(np.zeros((NUM_LANDMARKS, 3), np.float32)).save(damaged)
    half_a_file = damaged.read_bytes()[:-200]  # what a crash or a full disk leaves: the start of a real one
    damaged.write_bytes(half_a_file)
    s = Session(AppSettings(filter_name="neutralise"), model_path=MODEL, saved_reference=damaged)
    assert not s.has_saved_reference and "reference" not in s.filter_options("neutralise")
    assert "could not be read" in s.saved_reference_problem and "Calibrate again" in s.saved_reference_problem
    assert damaged.read_bytes() == half_a_file  # left for the user, not deleted
    with pytest.raises(RuntimeError, match="Calibrate your neutral face first"):
        s.save_reference()  # nothing calibrated (and no engine running)
    s.clear_reference()  # Clear is the way out: the damaged file goes too
    assert not damaged.exists() and s.saved_reference_problem == ""


# d3's longest relaxed stretch, where the neutraliser's calibration succeeds (see tests/test_gui_calibration.py).
RELAXED_CLIP, RELAXED_FRAMES = MEDIA / "liveportrait_d3.mp4", (179, 214)


def test_region_strength_rebuilds_the_running_neutraliser_keeping_its_calibration_and_never_a_raw_frame(session):
    first, last = RELAXED_FRAMES
    relaxed = read_frames(RELAXED_CLIP, max_frames=last)[first:]
    # The "camera" loops the relaxed excerpt (a camera device cannot exist here; everything else is real).
    s = session(
        AppSettings(camera="0", filter_name="neutralise"), open_source=lambda *_: ListSource(relaxed * 30, fps=30)
    )
    sent = []  # (state, output is bit-identical to the raw frame) of every frame the engine produced
    s.events.frame.connect(lambda r: sent.append((r.status.state, np.array_equal(r.output, r.source_image))))
    statuses, saved = [], []
    s.events.status.connect(statuses.append)
    s.events.changed.connect(lambda name, value: saved.append((name, value)))
    s.start()
    assert wait(lambda: s.calibration_ready and any(state == "face_found" for state, _ in sent))
    s.start_calibration(seconds=2.0)
    assert wait(lambda: s.reference_source == "calibrated"), s.calibration_message
    calibrated, before = s.reference(), s.pipeline.filter
    assert before.gains == {"brows": 1.0, "eyes": 1.0, "mouth": 1.0}

    for value in (0.8, 0.5, 0.2):  # a slider being dragged: one change after another while frames flow
        s.set_region_strength("mouth", value)
        time.sleep(0.1)
    s.set_region_strength("brows", 0.0)
    wanted = {"brows": 0.0, "eyes": 1.0, "mouth": 0.2}
    assert s.settings.region_strength == wanted and s.pipeline.settings.filter_options["region_strength"] == wanted
    assert saved[-1] == ("region_strength", wanted)
    assert wait(lambda: s.pipeline.filter.gains == wanted)
    assert s.pipeline.filter is not before
    count = len(sent)
    assert wait(lambda: len(sent) >= count + 10)
    # The person's calibrated neutral face was carried over to each rebuilt filter, not re-estimated.
    assert s.reference_source == "calibrated" and s.reference() is calibrated
    s.set_regions(["brows", "mouth"])  # a region switched off has no strength, whatever its slider says
    assert wait(lambda: s.pipeline.filter.gains == {"brows": 0.0, "eyes": 0.0, "mouth": 0.2})
    s.close()
    # Fail closed through every change: only filtered or obscured frames, never the camera's picture.
    assert len(sent) > 30 and not any(raw for _, raw in sent)
    assert {state for state, _ in sent} <= {"face_found", "face_lost", "starting"}
    assert not [status for status in statuses if status.state == "error"]

    for region, value in (("nose", 0.5), ("brows", 1.5), ("brows", -0.1), ("eyes", float("nan")), ("eyes", "1")):
        with pytest.raises(ValueError):
            s.set_region_strength(region, value)
    with pytest.raises(ValueError):
        s.set_region_strength("eyes", True)
    assert s.settings.region_strength == wanted
