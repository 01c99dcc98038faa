"""``deadpan doctor`` on fake system trees (sysfs, kernel modules) with the real model, the real tracker, the
real pyvirtualcam backends of this machine (none works: no loopback driver) and the capturing test backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.doctor import Finding, format_findings, run_checks
from app.model_store import ENV_VAR
from app.sinks.virtual_camera import MODPROBE_LINE
from app.sources.listing import VIRTUAL_CAMERA_NAME

from .capture_backend import BACKEND_NAME, register
from .test_sources import fake_sysfs

# The system libraries checked in tests that expect a healthy system: only those this test run cannot do without
# (MediaPipe's EGL, OpenCV's GL). The Qt window's xcb ones are missing on a bare machine that runs the tests
# offscreen, and the doctor rightly says so there.
LIBRARIES_THIS_RUN_NEEDS = {"EGL": "libegl1", "GL": "libgl1"}


@pytest.fixture
def capture():
    backend = register()
    yield backend
    backend.clear()


def healthy_linux(root: Path, exclusive_caps: str = "Y,N,N,N", label: str = VIRTUAL_CAMERA_NAME) -> Path:
    sys_root = root / "sys"
    fake_sysfs(sys_root, [(0, "Logitech BRIO", 0, "1-2:1.0"), (1, "Logitech BRIO", 1, "1-2:1.0"), (10, label, 0, None)])
    parameters = sys_root / "module" / "v4l2loopback" / "parameters"
    parameters.mkdir(parents=True)
    (parameters / "exclusive_caps").write_text(exclusive_caps + "\n")
    return sys_root


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def test_everything_fine(tmp_path, capture):
    findings = run_checks(
        sys_root=healthy_linux(tmp_path),
        dev_root="/dev",
        backends=[BACKEND_NAME],
        libraries=LIBRARIES_THIS_RUN_NEEDS,
        platform="linux",
    )
    checks = by_check(findings)
    assert all(f.ok for f in findings), format_findings(findings)
    assert "checksum verified" in checks["model"].message
    assert checks["face tracker"].ok
    assert checks["cameras"].message == "1 found: /dev/video0 (Logitech BRIO)"  # not the metadata node, not ours
    assert "Deadpan Test Camera" in checks[f"virtual camera ({BACKEND_NAME})"].message
    assert checks["v4l2loopback"].message == f"loaded: /dev/video10 ({VIRTUAL_CAMERA_NAME})"
    assert capture.opened and capture.received_bgr()[0].shape == (48, 64, 3)  # really opened and sent a frame
    assert format_findings(findings).endswith("All checks passed.")


def test_the_saved_neutral_face_is_reported_and_a_damaged_one_is_a_problem_with_its_fix(tmp_path, monkeypatch):
    from app.doctor import check_saved_reference
    from app.neutral_reference import saved_reference_path
    from filters.neutralise import NeutralReference

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert check_saved_reference().ok and "none saved" in check_saved_reference().message
    path = saved_reference_path()
    NeutralReference(np.zeros((478, 3), np.float32)).save(path)
    found = check_saved_reference()
    assert found.ok and str(path) in found.message
    path.write_bytes(b"truncated")
    damaged = check_saved_reference()
    assert not damaged.ok and "cannot be read" in damaged.message and "Clear" in damaged.fix
    report = format_findings(run_checks(backends=[], platform="darwin"))
    assert "PROBLEM  saved neutral face:" in report and path.read_bytes() == b"truncated"  # reported, not touched
    # The app's virtual-camera panel lists the doctor's problems when the camera fails: not this one.
    assert "saved neutral face" not in by_check(run_checks(backends=[], platform="darwin", saved_reference=False))


def test_fresh_linux_without_driver_or_camera(tmp_path):
    sys_root = tmp_path / "sys"
    (sys_root / "class" / "video4linux").mkdir(parents=True)
    (tmp_path / "modules" / "kernel" / "drivers" / "media").mkdir(parents=True)
    # backends=None: the real built-in backends of this machine, i.e. v4l2loopback, which has no device here.
    findings = run_checks(
        sys_root=sys_root, modules_root=tmp_path / "modules", libraries=LIBRARIES_THIS_RUN_NEEDS, platform="linux"
    )
    checks = by_check(findings)
    assert not checks["cameras"].ok and "--input FILE" in checks["cameras"].fix
    # pyvirtualcam's "no loopback device" and the missing driver are one problem, said once with one fix.
    vcam = checks["virtual camera (v4l2loopback)"]
    assert not vcam.ok and vcam.message == "unavailable: v4l2loopback not installed"
    assert "v4l2loopback-dkms" in vcam.fix and MODPROBE_LINE in vcam.fix
    assert "v4l2loopback" not in checks
    report = format_findings(findings)
    assert "PROBLEM  virtual camera (v4l2loopback): unavailable: v4l2loopback not installed" in report
    assert (
        f"fix: sudo apt install v4l2loopback-dkms (Fedora: sudo dnf install akmod-v4l2loopback), then {MODPROBE_LINE}"
        in report
    )
    assert report.count("modprobe") == 1 and report.endswith("2 problems found.")


def test_module_installed_but_not_loaded(tmp_path):
    sys_root = tmp_path / "sys"
    (sys_root / "class" / "video4linux").mkdir(parents=True)
    dkms = tmp_path / "modules" / "updates" / "dkms"
    dkms.mkdir(parents=True)
    (dkms / "v4l2loopback.ko.zst").write_bytes(b"")
    checks = by_check(run_checks(sys_root=sys_root, modules_root=tmp_path / "modules", platform="linux"))
    loopback = checks["virtual camera (v4l2loopback)"]
    assert (loopback.ok, loopback.message, loopback.fix) == (
        False,
        "unavailable: v4l2loopback installed but not loaded",
        MODPROBE_LINE,
    )
    # With the capturing backend working, a missing driver is still worth saying (it is the one call apps see).
    with_capture = by_check(
        run_checks(sys_root=sys_root, modules_root=tmp_path / "modules", platform="linux", backends=[BACKEND_NAME])
    )
    assert not with_capture["v4l2loopback"].ok and with_capture["v4l2loopback"].fix == MODPROBE_LINE


def test_loopback_without_exclusive_caps_or_label(tmp_path, capture):
    sys_root = healthy_linux(tmp_path, exclusive_caps="N,N", label="Dummy video device (0x0000)")
    checks = by_check(run_checks(sys_root=sys_root, backends=[BACKEND_NAME], platform="linux"))
    assert not checks["v4l2loopback exclusive_caps"].ok
    assert "exclusive_caps=1" in checks["v4l2loopback exclusive_caps"].fix
    labelled = checks["v4l2loopback"]
    assert labelled.ok and "none is labelled" in labelled.message and 'card_label="Deadpan Camera"' in labelled.fix


def test_a_backend_missing_is_fine_when_another_works(tmp_path, capture):
    checks = by_check(run_checks(sys_root=healthy_linux(tmp_path), backends=[BACKEND_NAME, "v4l2loopback"]))
    optional = checks["virtual camera (v4l2loopback)"]
    assert optional.ok and "not needed" in optional.message


def test_model_problem_is_reported_with_the_fix_not_raised(tmp_path, capture):
    checks = by_check(
        run_checks(str(tmp_path / "gone.task"), sys_root=healthy_linux(tmp_path), backends=[BACKEND_NAME])
    )
    model = checks["model"]
    assert not model.ok and "gone.task" in model.message and ENV_VAR in model.fix
    assert "face tracker" not in checks


def test_missing_system_library_names_the_package(tmp_path, capture):
    checks = by_check(
        run_checks(
            sys_root=healthy_linux(tmp_path),
            backends=[BACKEND_NAME],
            libraries={"EGL": "libegl1", "deadpan-no-such-library": "libdeadpan-test0"},
            platform="linux",
        )
    )
    libraries = checks["system libraries"]
    assert not libraries.ok and libraries.fix == "sudo apt install libdeadpan-test0"


def test_other_platforms_skip_linux_checks(tmp_path, capture):
    checks = by_check(run_checks(backends=[BACKEND_NAME], platform="darwin", sys_root=healthy_linux(tmp_path)))
    assert "v4l2loopback" not in checks and "system libraries" not in checks and "cameras" in checks


def test_format_findings_layout():
    text = format_findings([Finding("a", True, "fine"), Finding("b", False, "broken", "do this")])
    assert text.splitlines() == ["ok       a: fine", "PROBLEM  b: broken", "         fix: do this", "1 problem found."]
