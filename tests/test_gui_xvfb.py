"""The real app, started as users start it, in a real X server (Xvfb): frames flow and a screenshot is saved.

The test process itself stays offscreen; the app runs in a subprocess with QT_QPA_PLATFORM=xcb on a display
of its own. The screenshot goes to artifacts/gui_xvfb.png for a human to look at.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import MODEL, ROOT
from .gui_harness import CLIP

SCREEN = (1600, 1000)


def start_xvfb() -> tuple[subprocess.Popen, str]:
    for number in range(91, 160):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return server, f":{number}"
            time.sleep(0.05)
        server.kill()
        server.wait()
    raise RuntimeError("could not start Xvfb on any display from :91 to :159")


# A separate Qt client that grabs the whole X screen (QScreen.grabWindow of the root window) once a second and
# says so on stdout; only Qt and Xvfb are needed (no ImageMagick), and Qt starts once.
GRABBER = """
import os, sys, time
import app  # noqa: F401  (cv2 first, then Qt: see app/__init__.py)
from PySide6.QtGui import QGuiApplication
qt = QGuiApplication(sys.argv[:1])
path = sys.argv[1]
while True:
    if qt.primaryScreen().grabWindow(0).save(path + ".tmp.png"):
        os.replace(path + ".tmp.png", path)
        print("grabbed", flush=True)
    time.sleep(1.0)
"""


def shows_live_video(image: np.ndarray | None) -> bool:
    """A window with a camera picture in it: many distinct colours (the UI alone has a few dozen)."""
    if image is None or image.std() < 10:
        return False
    colours = np.unique(image[::2, ::2].reshape(-1, 3) // 4, axis=0)
    return len(colours) > 3000


@pytest.mark.xvfb
@pytest.mark.parametrize(
    ("settings", "screenshot"),
    [
        ({"filter_name": "blur"}, "gui_xvfb.png"),
        # The neutraliser's own controls: regions, each with its strength, keep speech, keep blinks, calibration.
        ({"filter_name": "neutralise", "region_strength": {"mouth": 0.5}}, "gui_xvfb_neutralise.png"),
    ],
)
def test_app_window_under_xvfb_shows_live_preview(tmp_path, artifacts_dir, settings, screenshot):
    settings_path = tmp_path / "settings.json"
    settings_path.write_text(json.dumps({"camera": str(CLIP), "mirror": True, **settings}))
    server, display = start_xvfb()
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", DEADPAN_MODEL=str(MODEL))
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    log = (tmp_path / "app.log").open("wb")  # a file, not a pipe: a full pipe would stall the app
    app = subprocess.Popen(
        [sys.executable, "-m", "app.gui.main", "--settings", str(settings_path), "--no-tray"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    out = artifacts_dir / screenshot
    out.unlink(missing_ok=True)
    grabber = subprocess.Popen(
        [sys.executable, "-c", GRABBER, str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        image, live_since = None, None
        deadline = time.monotonic() + 90  # generous: the shared build machine can be very busy
        while time.monotonic() < deadline and app.poll() is None and grabber.poll() is None:
            grabber.stdout.readline()  # blocks until the next grab
            image = cv2.imread(str(out))
            if shows_live_video(image):
                live_since = live_since or time.monotonic()
                if time.monotonic() - live_since > 1.5:  # a little longer: the stats line fills in
                    break
        # The grabber stops before the app is closed below: grabbing on, it would replace the screenshot a person
        # looks at with the empty screen the closed window leaves.
        grabber.kill()
        grabber.wait()
        image = cv2.imread(str(out))  # what is asserted below is the screenshot kept (replaced atomically)
        assert app.poll() is None, "the app exited:\n" + (tmp_path / "app.log").read_text(errors="replace")[-3000:]
        assert image is not None and image.shape[:2] == (SCREEN[1], SCREEN[0])
        assert shows_live_video(image), f"no live picture on screen; see {out}"
        # The window covers a good part of the screen (no window manager: it sits at the top left).
        rows, cols = np.nonzero(image.max(axis=2) > 0)
        assert cols.max() - cols.min() > 800 and rows.max() - rows.min() > 500
        # Ctrl-C in the terminal that started it closes the app the normal way: exit 0, settings saved.
        app.send_signal(signal.SIGINT)
        status = app.wait(timeout=20)
        log_text = (tmp_path / "app.log").read_text(errors="replace")
        assert status == 0 and "KeyboardInterrupt" not in log_text, log_text[-3000:]
        assert json.loads(settings_path.read_text())["window_geometry"], "closing did not save the settings"
    finally:
        grabber.kill()
        grabber.wait()
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        log.close()
        server.terminate()
        server.wait(timeout=10)
