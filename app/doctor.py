"""``deadpan doctor``: checks what Deadpan needs on this machine and, for each problem, says the fix.

Checks: the face model (found and verified; downloaded only when asked), the face tracker loading it, the
cameras (listed without opening them), each virtual-camera backend (opened for real with a tiny frame), on
Linux the v4l2loopback module and its devices, the system libraries Qt and MediaPipe load at run time, and the
neutral face saved for next time (if any).
"""

from __future__ import annotations

import ctypes.util
import os
import platform as platform_module
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.model_store import MODEL_SHA256, ModelError, ProgressCallback, resolve_model, sha256_of
from app.sinks.base import SinkError
from app.sinks.virtual_camera import MODPROBE_LINE, VirtualCameraSink, backend_fix, platform_backends
from app.sources.listing import VIRTUAL_CAMERA_NAME, list_cameras, video_nodes

# Shared libraries loaded at run time that pip cannot install, with the Debian/Ubuntu package providing each.
LINUX_LIBRARIES: Mapping[str, str] = {
    "EGL": "libegl1",  # MediaPipe
    "GLESv2": "libgles2",  # MediaPipe
    "xcb-cursor": "libxcb-cursor0",  # Qt 6.5+ xcb platform plugin: without it the window never opens
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-shape": "libxcb-shape0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-image": "libxcb-image0",
}
INSTALL_LOOPBACK = "sudo apt install v4l2loopback-dkms (Fedora: sudo dnf install akmod-v4l2loopback)"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str
    fix: str = ""


def check_model(model: str | None, *, download: bool, progress: ProgressCallback | None) -> list[Finding]:
    try:
        path = resolve_model(model, download=download, progress=progress)
    except ModelError as exc:
        fix = exc.fix
        if not download and "no face model found" in exc.problem:
            fix = f"Deadpan downloads it on its first run with network access; or {fix}"
        return [Finding("model", False, exc.problem, fix)]
    if sha256_of(path) == MODEL_SHA256:
        found = [Finding("model", True, f"{path} (official file, checksum verified)")]
    else:
        found = [
            Finding("model", True, f"{path} (a Face Landmarker bundle, not the official file: fine if on purpose)")
        ]
    return found + [check_tracker(path)]


def check_tracker(model_path: Path) -> Finding:
    """Load the model in MediaPipe once: proves the native libraries and the model work together."""
    try:
        # Imported here, inside the try: a broken MediaPipe install (missing native library) fails at import.
        from app.tracking import IMAGE, FaceTracker

        with FaceTracker(model_path, mode=IMAGE) as tracker:
            tracker.track(np.zeros((64, 64, 3), np.uint8))
    except Exception as exc:  # any failure here is a broken install, reported rather than raised
        return Finding(
            "face tracker",
            False,
            f"MediaPipe cannot run the model: {type(exc).__name__}: {exc}",
            "reinstall with `pip install --force-reinstall mediapipe`; on Linux also install libegl1 libgles2",
        )
    return Finding("face tracker", True, "MediaPipe loads the model and runs")


def check_cameras(sysfs_root: Path | None, dev_root: Path) -> list[Finding]:
    cameras = list_cameras(sysfs_root=sysfs_root, dev_root=dev_root)
    if not cameras:
        return [
            Finding(
                "cameras",
                False,
                "no camera found",
                "connect a webcam (and close apps that hold it), or run on a video file with --input FILE",
            )
        ]
    names = ", ".join(f"{c.path} ({c.name})" for c in cameras)
    findings = [Finding("cameras", True, f"{len(cameras)} found: {names}")]
    blocked = [c.path for c in cameras if Path(c.path).exists() and not _can_open(Path(c.path))]
    if blocked:
        findings.append(
            Finding(
                "camera permissions",
                False,
                f"no permission to open {', '.join(blocked)}",
                "sudo usermod -aG video $USER, then log out and in again",
            )
        )
    return findings


def _can_open(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK)


def check_virtual_cameras(backends: Sequence[str] | None) -> list[Finding]:
    names = list(backends) if backends is not None else platform_backends()
    if not names:
        return [Finding("virtual camera", False, "pyvirtualcam has no backend for this system", "use --output FILE")]
    results: list[tuple[str, str | None, str]] = []  # (backend, device or None, why)
    for name in names:
        sink = VirtualCameraSink(backend=name)
        try:
            sink.start(64, 48, 30)
            sink.write(np.zeros((48, 64, 3), np.uint8))
            results.append((name, sink.device, ""))
        except SinkError as exc:
            why = "; ".join(message for _, message in sink.failures) or str(exc)
            results.append((name, None, why))
        finally:
            sink.stop()
    any_works = any(device is not None for _, device, _ in results)
    findings = []
    for name, device, why in results:
        check = f"virtual camera ({name})"
        if device is not None:
            findings.append(Finding(check, True, f"works: the camera apps see {device!r}"))
        elif any_works:  # e.g. Unity Capture missing while OBS works: nothing to fix
            findings.append(Finding(check, True, f"not available ({why}); not needed, another backend works"))
        else:
            findings.append(Finding(check, False, why, backend_fix(name)))
    return findings


def _loopback_module_installed(modules_root: Path) -> bool | None:
    """Whether a v4l2loopback kernel module file exists for the running kernel; None when we cannot tell."""
    if not modules_root.is_dir():
        return None
    for folder in ("updates", "extra", "kernel/drivers/media", "misc"):
        if any((modules_root / folder).rglob("v4l2loopback.ko*")):
            return True
    return False


def check_loopback(sys_root: Path, modules_root: Path, dev_root: Path) -> list[Finding]:
    module = sys_root / "module" / "v4l2loopback"
    if not module.is_dir():
        installed = _loopback_module_installed(modules_root)
        if installed:
            return [Finding("v4l2loopback", False, "installed but not loaded", MODPROBE_LINE)]
        state = "not installed" if installed is False else "not loaded"
        return [Finding("v4l2loopback", False, state, f"{INSTALL_LOOPBACK}, then {MODPROBE_LINE}")]
    nodes = [n for n in video_nodes(sys_root / "class" / "video4linux") if n.virtual]
    if not nodes:
        return [
            Finding(
                "v4l2loopback",
                False,
                "loaded but it created no device",
                f"sudo modprobe -r v4l2loopback && {MODPROBE_LINE}",
            )
        ]
    listed = ", ".join(f"{dev_root / f'video{n.number}'} ({n.name})" for n in nodes)
    ours = [n for n in nodes if n.name == VIRTUAL_CAMERA_NAME]
    findings = []
    if ours:
        findings.append(Finding("v4l2loopback", True, f"loaded: {listed}"))
    else:
        findings.append(
            Finding(
                "v4l2loopback",
                True,
                f"loaded: {listed}; none is labelled {VIRTUAL_CAMERA_NAME!r}, so Deadpan uses the first one",
                f"to give it a clear name in call apps: sudo modprobe -r v4l2loopback && {MODPROBE_LINE}",
            )
        )
    parameter = module / "parameters" / "exclusive_caps"  # one Y/N per device, e.g. "Y,N,N,N"
    exclusive = parameter.read_text().strip() if parameter.is_file() else ""
    if exclusive and not any(flag in ("Y", "1") for flag in exclusive.split(",")):
        findings.append(
            Finding(
                "v4l2loopback exclusive_caps",
                False,
                "loaded without exclusive_caps=1: Chrome, Meet, Zoom and Teams will not list the camera",
                f"sudo modprobe -r v4l2loopback && {MODPROBE_LINE}",
            )
        )
    return findings


def check_libraries(libraries: Mapping[str, str], find: Callable[[str], str | None]) -> Finding:
    missing = [package for library, package in libraries.items() if not find(library)]
    if missing:
        return Finding(
            "system libraries",
            False,
            f"missing: {', '.join(missing)} (the desktop window or the face tracker may fail to start)",
            f"sudo apt install {' '.join(missing)}",
        )
    return Finding("system libraries", True, "Qt and MediaPipe libraries present")


def check_saved_reference() -> Finding:
    """The neutral face saved for next time: none (fine), readable, or damaged (the app then uses the automatic
    reference and says so; the fix is to forget it)."""
    from app.neutral_reference import load_saved_reference, saved_reference_path
    from filters.neutralise import ReferenceFileError

    path = saved_reference_path()
    try:
        saved = load_saved_reference(path)
    except ReferenceFileError as exc:
        return Finding(
            "saved neutral face",
            False,
            f"{path} cannot be read: {exc.reason}",
            "press Clear in the app's calibration window (it deletes the file), then calibrate and save again",
        )
    if saved is None:
        return Finding("saved neutral face", True, "none saved; the neutraliser learns your neutral face as you go")
    return Finding("saved neutral face", True, f"{path} (used whenever the app starts; Clear forgets it)")


def run_checks(
    model: str | None = None,
    *,
    download: bool = False,
    progress: ProgressCallback | None = None,
    backends: Sequence[str] | None = None,
    sys_root: str | Path = "/sys",
    dev_root: str | Path = "/dev",
    modules_root: str | Path | None = None,
    libraries: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    saved_reference: bool = True,
    cameras: bool = True,
) -> list[Finding]:
    """Every check, in the order a user fixes things. Never raises for a problem: each one is a Finding.
    The keyword arguments exist so tests can point the checks at fake system trees; ``saved_reference=False``
    leaves out the saved neutral face and ``cameras=False`` the webcams (the app asks when the virtual camera fails,
    which neither has a part in: it may be running on a video file)."""
    linux = platform.startswith("linux")
    sys_root, dev_root = Path(sys_root), Path(dev_root)
    findings = check_model(model, download=download, progress=progress)
    if cameras:
        findings += check_cameras(sys_root / "class" / "video4linux" if linux else None, dev_root)
    findings += check_virtual_cameras(backends)
    if linux:
        modules = Path(modules_root) if modules_root is not None else Path("/lib/modules") / platform_module.release()
        findings = _merge_loopback(findings, check_loopback(sys_root, modules, dev_root))
        findings.append(check_libraries(LINUX_LIBRARIES if libraries is None else libraries, ctypes.util.find_library))
    if saved_reference:
        findings.append(check_saved_reference())
    return findings


def _merge_loopback(findings: list[Finding], loopback: list[Finding]) -> list[Finding]:
    """When the v4l2loopback driver is missing, pyvirtualcam's "no loopback device" and the driver check are one
    problem: report it once, as the virtual camera's, in the driver check's more precise words and fix."""
    backend_check = "virtual camera (v4l2loopback)"
    driver = loopback[0] if loopback else None
    failed_backend = [f for f in findings if f.check == backend_check and not f.ok]
    if driver is None or driver.ok or not failed_backend:
        return findings + loopback
    merged = Finding(backend_check, False, f"unavailable: v4l2loopback {driver.message}", driver.fix)
    return [merged if f is failed_backend[0] else f for f in findings] + loopback[1:]


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per check (``ok`` / ``PROBLEM``), the fix indented under each problem, then a summary."""
    lines = []
    for finding in findings:
        lines.append(f"{'ok' if finding.ok else 'PROBLEM':8} {finding.check}: {finding.message}")
        if finding.fix:
            lines.append(f"{'':8} {'fix' if not finding.ok else 'tip'}: {finding.fix}")
    problems = sum(not f.ok for f in findings)
    lines.append(f"{problems} problem{'s' if problems != 1 else ''} found." if problems else "All checks passed.")
    return "\n".join(lines)
