"""Deadpan: the engine (capture, tracking, pipeline, outputs, CLI) and, in ``app.gui``, the Qt desktop app."""

import os

import cv2  # noqa: F401  (imported first on purpose: see below)

# OpenCV's wheel points Qt at its own bundled Qt5 plugins; PySide6 must not pick those up, or it aborts.
for _var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
    os.environ.pop(_var, None)
