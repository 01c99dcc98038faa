"""Sinks: the real pyvirtualcam.Camera through a capturing backend (the driver is what cannot exist here), real
OpenCV video writing, atomic files."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import pyvirtualcam

from app.sinks import (
    ImageFileSink,
    NullSink,
    SinkError,
    VideoFileSink,
    VirtualCameraSink,
    open_sink,
    platform_backends,
)
from app.sinks.virtual_camera import MODPROBE_LINE

from .capture_backend import BACKEND_NAME, register
from .conftest import MEDIA
from .helpers import read_frames
from .test_sources import fake_sysfs

CLIP_FRAMES = read_frames(MEDIA / "liveportrait_d12.mp4", max_frames=40, step=2)  # 20 real 512x512 frames


@pytest.fixture
def capture():
    backend = register()
    yield backend
    backend.clear()


def noise_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


# -- VirtualCameraSink ---------------------------------------------------------------------------------


def test_virtual_camera_delivers_exactly_the_frames_written(capture):
    sink = VirtualCameraSink(backend=BACKEND_NAME).start(512, 512, 25)
    try:
        assert sink.device == "Deadpan Test Camera" and sink.backend_in_use == BACKEND_NAME
        for frame in CLIP_FRAMES:
            sink.write(frame)
    finally:
        sink.stop()
    received = capture.received_bgr()
    assert len(received) == len(CLIP_FRAMES) == sink.frames
    assert all(np.array_equal(got, sent) for got, sent in zip(received, CLIP_FRAMES))
    bgr = pyvirtualcam.PixelFormat.BGR.value
    assert capture.opened == [{"width": 512, "height": 512, "fps": 25, "fourcc": bgr, "device": "Deadpan Test Camera"}]


def test_virtual_camera_device_choice_is_passed_and_reported(capture):
    sink = VirtualCameraSink(backend=BACKEND_NAME, device="/dev/video42").start(64, 48, 30)
    assert sink.device == "/dev/video42"
    sink.stop()
    assert capture.opened[0]["device"] == "/dev/video42"


def test_virtual_camera_write_does_not_sleep(capture):
    frames = noise_frames(10)
    sink = VirtualCameraSink(backend=BACKEND_NAME).start(64, 48, 5)  # 5 fps: pacing would take 2 s
    start = time.perf_counter()
    for frame in frames:
        sink.write(frame)
    elapsed = time.perf_counter() - start
    sink.stop()
    assert elapsed < 0.5
    assert len(capture.received_bgr()) == 10


def test_virtual_camera_rejects_wrong_frames_and_survives_driver_hiccups(capture):
    sink = VirtualCameraSink(backend=BACKEND_NAME)
    with pytest.raises(SinkError, match="not started"):
        sink.write(noise_frames(1)[0])
    sink.start(64, 48, 30)
    with pytest.raises(SinkError, match="shape"):
        sink.write(np.zeros((48, 64), np.uint8))
    capture.fail_sends = 1
    good = noise_frames(2)
    with pytest.raises(SinkError, match="rejected a frame"):
        sink.write(good[0])
    sink.write(good[1])  # the driver came back: the same sink carries on
    sink.stop()
    received = capture.received_bgr()
    assert len(received) == 1 and np.array_equal(received[0], good[1])


def test_virtual_camera_restarts_at_a_new_size(capture):
    sink = VirtualCameraSink(backend=BACKEND_NAME).start(64, 48, 30)
    sink.write(noise_frames(1)[0])
    sink.start(32, 24, 15)  # a new source size: reopened
    sink.write(noise_frames(1, 24, 32)[0])
    sink.stop()
    assert [(o["width"], o["height"]) for o in capture.opened] == [(64, 48), (32, 24)]
    assert [f.shape for f in capture.received_bgr()] == [(48, 64, 3), (24, 32, 3)]


def test_no_driver_gives_the_fix():
    # This machine has no loopback device: the real v4l2loopback backend fails, as on a fresh Linux install.
    assert platform_backends() == ["v4l2loopback"]
    with pytest.raises(SinkError) as info:
        VirtualCameraSink().start(64, 48, 30)
    message = str(info.value)
    assert "v4l2loopback: No v4l2 loopback device found" in message
    assert MODPROBE_LINE in message and 'card_label="Deadpan Camera"' in message and "\n" not in message


def test_linux_default_device_is_the_loopback_labelled_deadpan_camera(tmp_path):
    sysfs = fake_sysfs(tmp_path / "sys", [(4, "Dummy video device (0x0000)", 0, None), (7, "Deadpan Camera", 0, None)])
    # The real v4l2loopback backend is asked for /dev/video7 (which cannot exist here) rather than the first device.
    with pytest.raises(SinkError, match=r"v4l2loopback: Device /dev/video7 does not exist"):
        VirtualCameraSink(backend="v4l2loopback", sysfs_root=sysfs).start(64, 48, 30)


def test_missing_device_and_unknown_backend():
    with pytest.raises(SinkError, match=r"v4l2loopback: Device /dev/video63 does not exist"):
        VirtualCameraSink(backend="v4l2loopback", device="/dev/video63").start(64, 48, 30)
    with pytest.raises(SinkError, match=r"unknown virtual camera backend 'nope': choose one of auto, .*v4l2loopback"):
        VirtualCameraSink(backend="nope").start(64, 48, 30)


# -- VideoFileSink -------------------------------------------------------------------------------------


def test_video_file_same_size_fps_and_count_and_atomic(tmp_path):
    out = tmp_path / "out.mp4"
    sink = VideoFileSink(out).start(512, 512, 25)
    for frame in CLIP_FRAMES:
        sink.write(frame)
    assert not out.exists()  # nothing under the final name until the file is complete
    assert len(list(tmp_path.iterdir())) == 1
    sink.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FPS) == 25
    back = read_frames(out)
    capture.release()
    assert len(back) == len(CLIP_FRAMES) and back[0].shape == (512, 512, 3)
    # Lossy, but the same pictures: mean absolute difference of a few grey levels.
    assert float(np.mean(cv2.absdiff(back[5], CLIP_FRAMES[5]))) < 6


def test_video_file_failed_run_leaves_nothing(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="boom"), VideoFileSink(out) as sink:
        sink.start(64, 48, 30)
        sink.write(noise_frames(1)[0])
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    assert out.read_bytes() == b"previous result"  # the old file was not touched
    empty = VideoFileSink(tmp_path / "empty.mp4").start(64, 48, 30)
    empty.stop()
    assert not (tmp_path / "empty.mp4").exists()


def test_video_file_errors(tmp_path):
    with pytest.raises(SinkError, match="does not exist"):
        VideoFileSink(tmp_path / "no" / "out.mp4").start(64, 48, 30)
    for name in ("out.xyz", "out.gif", "out.webm"):
        with pytest.raises(SinkError, match=f"cannot write a video to {name}"):
            VideoFileSink(tmp_path / name).start(64, 48, 30)
    assert list(tmp_path.iterdir()) == []
    sink = VideoFileSink(tmp_path / "out.avi").start(64, 48, 30)
    with pytest.raises(SinkError, match="shape"):
        sink.write(np.zeros((24, 32, 3), np.uint8))
    sink.discard()
    assert list(tmp_path.iterdir()) == []


# -- ImageFileSink, NullSink, open_sink ------------------------------------------------------------------


def test_image_file_keeps_the_last_frame(tmp_path):
    out = tmp_path / "out.png"
    sink = ImageFileSink(out).start(512, 512, 30)
    sink.write(CLIP_FRAMES[0])
    sink.write(CLIP_FRAMES[1])
    assert not out.exists()
    sink.stop()
    assert np.array_equal(cv2.imread(str(out)), CLIP_FRAMES[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    with pytest.raises(SinkError, match="image name"):
        ImageFileSink(tmp_path / "out.txt").start(64, 48, 30)


def test_null_sink_counts_and_checks():
    sink = NullSink().start(64, 48, 30)
    for frame in noise_frames(3):
        sink.write(frame)
    assert sink.frames == 3 and sink.last_write_at is not None
    with pytest.raises(SinkError, match="64x48"):
        sink.write(np.zeros((10, 10, 3), np.uint8))


def test_open_sink_dispatch(tmp_path):
    vcam = open_sink("vcam", backend="obs", device="x")
    assert isinstance(vcam, VirtualCameraSink) and vcam.backend == "obs" and vcam.requested_device == "x"
    assert isinstance(open_sink("null"), NullSink)
    assert isinstance(open_sink(tmp_path / "a.JPG"), ImageFileSink)
    assert isinstance(open_sink(str(tmp_path / "a.mp4")), VideoFileSink)
