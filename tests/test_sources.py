"""Sources on real files and real OpenCV decoding. The camera device cannot exist here, so CameraSource is
pointed at a video file (OpenCV opens it through the same VideoCapture API): the capture thread, the
newest-frame hand-over, stall detection and reopening all run for real."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.sources import (
    CameraSource,
    ImageSource,
    SourceError,
    VideoFileSource,
    list_cameras,
    open_source,
)
from app.sources.listing import VIRTUAL_CAMERA_NAME, deadpan_loopback_device

from .conftest import MEDIA
from .helpers import read_frames

SHORT_CLIP = MEDIA / "liveportrait_d0.mp4"  # 78 frames, 25 fps, 512x512
LONG_CLIP = MEDIA / "liveportrait_d6.mp4"  # 1008 frames, 30 fps, 480x480


def numbered_clip(path: Path, frames: int, fps: float, size=(64, 48)) -> Path:
    """A small clip whose frame i has brightness 10 * i, so order and identity can be checked after decoding."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    writer.release()
    return path


def brightness_index(frame) -> int:
    return round(float(frame.image.mean()) / 10)


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# -- CameraSource ------------------------------------------------------------------------------------------


def test_camera_hands_over_only_the_newest_frame_and_reports_granted_size():
    with CameraSource(str(LONG_CLIP), width=1280, height=720, fps=30, reopen_after=60) as camera:
        info = camera.info
        assert (info.width, info.height) == (480, 480)  # what the "driver" granted, not what was asked
        assert info.frame_count is None  # a live source
        first = camera.read(timeout=2.0)
        assert first is not None and first.image.shape == (480, 480, 3)
        indices = [first.index]
        for _ in range(6):
            time.sleep(0.03)  # a slow consumer: the thread keeps reading meanwhile
            frame = camera.read(timeout=2.0)
            assert frame is not None
            indices.append(frame.index)
        assert all(b > a for a, b in zip(indices, indices[1:]))
        assert max(b - a for a, b in zip(indices, indices[1:])) > 1  # frames were skipped, not queued
        assert camera.dropped > 0
        assert camera.dropped + len(indices) <= indices[-1] + 2


def test_camera_stall_is_reported_and_the_device_reopened():
    # The 78-frame clip is read in a fraction of a second; then reads fail like an unplugged camera.
    camera = CameraSource(str(SHORT_CLIP), stall_after=0.15, reopen_after=0.5).start()
    try:
        assert wait_until(lambda: camera.stalled, 5.0)
        last_index = -1
        while (left := camera.read(timeout=0)) is not None:  # drain what was left
            last_index = left.index
        drained_at = time.monotonic()
        assert camera.running  # the failing reads did not kill the thread
        # Reopening brings frames back (the file plays again from its start) and clears the flag.
        assert wait_until(lambda: camera.reopens >= 1, 5.0)
        frame = camera.read(timeout=3.0)
        assert frame is not None and frame.captured_at > drained_at and frame.index > last_index
        assert camera.read_failures > 0
    finally:
        camera.stop()
    assert not camera.running and camera.read(timeout=0.1) is None


def test_camera_that_cannot_open_raises_a_clear_error():
    with pytest.raises(SourceError, match=r"cannot open camera /dev/video63: .*deadpan doctor"):
        CameraSource("/dev/video63").start()


def test_camera_read_before_start_is_an_error():
    with pytest.raises(SourceError, match="start"):
        CameraSource(0).read(timeout=0)


# -- VideoFileSource -----------------------------------------------------------------------------------


def test_offline_video_gives_every_frame_in_order():
    expected = read_frames(SHORT_CLIP)
    with VideoFileSource(SHORT_CLIP, realtime=False) as video:
        assert video.info.frame_count == len(expected) == 78
        assert video.info.fps == 25
        got = []
        while (frame := video.read()) is not None:
            got.append(frame)
        assert video.ended and video.dropped == 0
    assert [f.index for f in got] == list(range(78))
    assert all(np.array_equal(f.image, e) for f, e in zip(got[::11], expected[::11]))
    assert np.array_equal(got[-1].image, expected[-1])


def test_offline_video_loops(tmp_path):
    clip = numbered_clip(tmp_path / "n.avi", 6, 30)
    with VideoFileSource(clip, realtime=False, loop=True) as video:
        frames = [video.read() for _ in range(14)]
        assert not video.ended
    assert [brightness_index(f) for f in frames] == [0, 1, 2, 3, 4, 5] * 2 + [0, 1]
    assert [f.index for f in frames] == list(range(14))


def test_realtime_video_is_paced_at_its_own_fps(tmp_path):
    clip = numbered_clip(tmp_path / "n.avi", 16, 50)
    with VideoFileSource(clip, realtime=True) as video:
        frames = []
        while (frame := video.read(timeout=1.0)) is not None:
            frames.append(frame)
        assert video.ended
    intervals = np.diff([f.captured_at for f in frames])
    assert len(frames) >= 14  # a loaded machine may drop one or two
    assert 0.015 < float(np.median(intervals)) < 0.03  # 20 ms at 50 fps
    assert frames[-1].captured_at - frames[0].captured_at > 0.25


def test_realtime_video_drops_what_the_consumer_missed(tmp_path):
    clip = numbered_clip(tmp_path / "n.avi", 20, 100)
    with VideoFileSource(clip, realtime=True) as video:
        first = video.read(timeout=1.0)
        time.sleep(0.08)
        later = video.read(timeout=1.0)
        assert later.index - first.index >= 4 and video.dropped >= 3
        assert brightness_index(later) == later.index  # the newest decoded frame, not an old one


def test_realtime_video_loops(tmp_path):
    clip = numbered_clip(tmp_path / "n.avi", 4, 100)
    with VideoFileSource(clip, realtime=True, loop=True) as video:
        frames = [video.read(timeout=1.0) for _ in range(10)]
        assert not video.ended
    assert all(f is not None for f in frames) and frames[-1].index >= 9
    assert {brightness_index(f) for f in frames} == {0, 1, 2, 3}


def test_video_file_errors(tmp_path):
    with pytest.raises(SourceError, match="video file not found"):
        VideoFileSource(tmp_path / "absent.mp4")
    with pytest.raises(SourceError, match="is a folder"):
        VideoFileSource(tmp_path)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    with pytest.raises(SourceError, match="cannot read .*corrupt.mp4 as a video"):
        VideoFileSource(corrupt).start()
    header_only = tmp_path / "cut.avi"
    header_only.write_bytes(numbered_clip(tmp_path / "whole.avi", 10, 30).read_bytes()[:300])
    with pytest.raises(SourceError, match="cut.avi"):
        VideoFileSource(header_only).start()


# -- ImageSource ---------------------------------------------------------------------------------------


@pytest.fixture
def still(tmp_path) -> Path:
    image = read_frames(SHORT_CLIP, 1)[0]
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), image)
    return path


def test_offline_image_is_one_frame(still):
    with ImageSource(still, realtime=False) as source:
        assert source.info.frame_count == 1 and (source.info.width, source.info.height) == (512, 512)
        frame = source.read()
        assert np.array_equal(frame.image, cv2.imread(str(still)))
        assert source.ended and source.read() is None


def test_realtime_image_is_endless_paced_and_copied(still):
    with ImageSource(still, realtime=True, fps=20) as source:
        start = time.monotonic()
        frames = [source.read(timeout=1.0) for _ in range(6)]
        elapsed = time.monotonic() - start
        assert not source.ended
        assert source.read(timeout=0.001) is None  # the next one is not due yet
    assert 0.2 < elapsed < 0.8  # 5 periods of 50 ms
    frames[0].image[:] = 0  # a filter drawing on one frame must not change the next
    assert frames[1].image.mean() > 10
    assert [f.index for f in frames] == list(range(6))


def test_image_errors(tmp_path):
    with pytest.raises(SourceError, match="image file not found"):
        ImageSource(tmp_path / "absent.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    with pytest.raises(SourceError, match="cannot decode .*broken.png"):
        ImageSource(broken).start()


# -- open_source ---------------------------------------------------------------------------------------


def test_open_source_dispatches_and_shares_options(still):
    camera = open_source("2", width=640, height=480, fps=15, realtime=False, loop=True)
    assert isinstance(camera, CameraSource) and camera.device == 2
    assert isinstance(open_source("/dev/video5"), CameraSource)
    video = open_source(str(SHORT_CLIP), width=640, realtime=False, loop=True, fps=None)
    assert isinstance(video, VideoFileSource) and video.realtime is False and video.loop is True
    image = open_source(still, realtime=False, width=640)
    assert isinstance(image, ImageSource) and image.realtime is False


def test_open_source_unknown_spec(tmp_path):
    with pytest.raises(SourceError) as info:
        open_source(str(tmp_path / "missing.mp4"))
    assert "no such camera or file" in str(info.value) and "\n" not in str(info.value)


# -- list_cameras on a fake sysfs tree -----------------------------------------------------------------


def fake_sysfs(root: Path, nodes: list[tuple[int, str, int, str | None]]) -> Path:
    """nodes: (number, name, index, usb interface or None for a virtual device), laid out as the kernel does:
    /sys/class/video4linux/videoN -> ../../devices/.../video4linux/videoN, with a ``device`` link for hardware."""
    class_dir = root / "class" / "video4linux"
    class_dir.mkdir(parents=True)
    for number, name, index, interface in nodes:
        if interface is None:
            node_dir = root / "devices" / "virtual" / "video4linux" / f"video{number}"
        else:
            interface_dir = root / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1" / interface
            node_dir = interface_dir / "video4linux" / f"video{number}"
        node_dir.mkdir(parents=True)
        (node_dir / "name").write_text(name + "\n")
        (node_dir / "index").write_text(f"{index}\n")
        if interface is not None:
            (node_dir / "device").symlink_to(interface_dir)
        (class_dir / f"video{number}").symlink_to(node_dir)
    return class_dir


@pytest.fixture
def sysfs(tmp_path) -> Path:
    return fake_sysfs(
        tmp_path / "sys",
        [
            (0, "Integrated Camera: Integrated C", 0, "1-1:1.0"),
            (1, "Integrated Camera: Integrated C", 1, "1-1:1.0"),  # UVC metadata node
            (2, "Logitech BRIO", 0, "1-2:1.0"),
            (3, "Logitech BRIO", 1, "1-2:1.0"),
            (10, VIRTUAL_CAMERA_NAME, 0, None),
            (11, "Dummy video device (0x0000)", 0, None),
            (12, "OBS Virtual Camera", 0, None),
        ],
    )


def test_listing_reads_sysfs_and_leaves_out_metadata_and_virtual_nodes(sysfs, tmp_path):
    cameras = list_cameras(sysfs_root=sysfs, dev_root=tmp_path / "dev")
    assert [(c.id, c.name, c.virtual) for c in cameras] == [
        (0, "Integrated Camera: Integrated C", False),
        (2, "Logitech BRIO", False),
    ]
    assert cameras[0].path == str(tmp_path / "dev" / "video0")


def test_listing_never_includes_deadpans_own_camera(sysfs):
    everything = list_cameras(sysfs_root=sysfs, include_virtual=True)
    assert [c.id for c in everything] == [0, 2, 11, 12]
    assert VIRTUAL_CAMERA_NAME not in {c.name for c in everything}
    assert [c.id for c in list_cameras(sysfs_root=sysfs, include_virtual=True, exclude=["/dev/video12"])] == [0, 2, 11]


def test_listing_finds_the_deadpan_loopback_and_copes_without_sysfs(sysfs, tmp_path):
    assert deadpan_loopback_device(sysfs) == "/dev/video10"
    assert list_cameras(sysfs_root=tmp_path / "no-such-dir") == []
    assert deadpan_loopback_device(tmp_path / "no-such-dir") is None
