"""Which cameras are there, without opening them where the OS allows (Linux: sysfs), never listing Deadpan's own
virtual camera so the app cannot end up filming its own output."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2

VIRTUAL_CAMERA_NAME = "Deadpan Camera"
SYSFS_VIDEO4LINUX = Path("/sys/class/video4linux")
# v4l2loopback's label when none was given with card_label=...
LOOPBACK_DEFAULT_LABEL = "Dummy video device"


@dataclass(frozen=True)
class CameraInfo:
    id: int
    name: str
    path: str  # what to pass as --camera / CameraSource(device): /dev/videoN on Linux, the index elsewhere
    virtual: bool = False  # a loopback/virtual device rather than hardware


@dataclass(frozen=True)
class VideoNode:
    """One /dev/videoN as sysfs describes it."""

    number: int
    name: str
    index: int  # the node's index within its physical device (UVC: 0 = capture, 1 = metadata)
    parent: str | None  # the physical device it belongs to; None for virtual devices
    virtual: bool


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _node_number(entry: Path) -> int:
    digits = entry.name.removeprefix("video")
    return int(digits) if digits.isdigit() else -1


def video_nodes(sysfs_root: str | Path = SYSFS_VIDEO4LINUX) -> list[VideoNode]:
    """Every videoN under ``sysfs_root``, read from sysfs only (no device is opened)."""
    root = Path(sysfs_root)
    if not root.is_dir():
        return []
    nodes = []
    for entry in sorted(root.glob("video*"), key=_node_number):
        number = _node_number(entry)
        if number < 0:
            continue
        name = _read_text(entry / "name") or entry.name
        index_text = _read_text(entry / "index")
        device_link = entry / "device"
        parent = str(device_link.resolve()) if device_link.exists() else None
        parts = entry.resolve().parts
        under_virtual = any(a == "devices" and b == "virtual" for a, b in zip(parts, parts[1:]))
        virtual = under_virtual or name.startswith(LOOPBACK_DEFAULT_LABEL) or name == VIRTUAL_CAMERA_NAME
        nodes.append(VideoNode(number, name, int(index_text) if index_text.isdigit() else 0, parent, virtual))
    return nodes


def deadpan_loopback_device(sysfs_root: str | Path = SYSFS_VIDEO4LINUX, dev_root: str | Path = "/dev") -> str | None:
    """The /dev path of the loopback device labelled ``VIRTUAL_CAMERA_NAME``, if there is one."""
    for node in video_nodes(sysfs_root):
        if node.name == VIRTUAL_CAMERA_NAME:
            return str(Path(dev_root) / f"video{node.number}")
    return None


def _linux_cameras(sysfs_root: Path, dev_root: Path, include_virtual: bool) -> list[CameraInfo]:
    nodes = video_nodes(sysfs_root)
    # A UVC webcam has a capture node (index 0) and a metadata-only node (index 1) on the same device; sysfs
    # cannot show capabilities, so skip the non-zero index nodes of any device that also has an index-0 node.
    has_primary = {node.parent for node in nodes if node.parent is not None and node.index == 0}
    cameras = []
    for node in nodes:
        if node.name == VIRTUAL_CAMERA_NAME:
            continue  # our own output, always
        if node.virtual and not include_virtual:
            continue
        if node.index > 0 and node.parent in has_primary:
            continue
        cameras.append(CameraInfo(node.number, node.name, str(dev_root / f"video{node.number}"), node.virtual))
    return cameras


def _probe_cameras(count: int) -> list[CameraInfo]:
    # No device names without platform APIs; opening is the only portable test, so only a few indices are tried.
    api = cv2.CAP_DSHOW if sys.platform == "win32" else cv2.CAP_ANY
    cameras = []
    for index in range(count):
        capture = cv2.VideoCapture(index, api)
        try:
            if capture.isOpened():
                cameras.append(CameraInfo(index, f"Camera {index}", str(index)))
        finally:
            capture.release()
    return cameras


def list_cameras(
    *,
    sysfs_root: str | Path | None = None,
    dev_root: str | Path = "/dev",
    include_virtual: bool = False,
    exclude: Iterable[str] = (),
    probe: int = 4,
) -> list[CameraInfo]:
    """Cameras the user can pick. Linux (or when ``sysfs_root`` is given): from sysfs, without opening devices,
    leaving out metadata nodes, Deadpan's own virtual camera and, unless ``include_virtual``, other loopback
    devices. Elsewhere: the first ``probe`` indices that open. ``exclude``: paths to leave out too (e.g. the
    device a running virtual-camera sink writes to, whatever its label)."""
    excluded = {str(p) for p in exclude}
    if sysfs_root is not None or sys.platform.startswith("linux"):
        root = Path(sysfs_root) if sysfs_root is not None else SYSFS_VIDEO4LINUX
        cameras = _linux_cameras(root, Path(dev_root), include_virtual)
    else:
        cameras = _probe_cameras(probe)
    return [camera for camera in cameras if camera.path not in excluded]
