"""Camera choice: the plugged-in cameras by name (re-listed every 2 s), resolution, fps, a video file, mirror."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QWidget,
)

from app.session import Session
from app.settings_store import FRAME_RATES, RESOLUTIONS

CAMERA_POLL_MS = 2000
VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.webm);;Images (*.png *.jpg *.jpeg);;All files (*)"


class CameraPanel(QGroupBox):
    """The camera combo lists cameras and, if one is in use, the video file; choosing an entry switches source."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Camera", parent)
        self.session = session
        self.camera_combo = QComboBox()
        self.camera_combo.setAccessibleName("Camera")
        self.camera_combo.setToolTip("Which camera Deadpan reads (the list updates when you plug one in)")
        self.camera_combo.setMinimumContentsLength(18)
        self.open_file_button = QPushButton("Video &file…")
        self.open_file_button.setToolTip("Try Deadpan with a video file instead of a camera (Ctrl+O)")
        self.open_file_button.setAccessibleName("Open a video file")
        self.resolution_combo = QComboBox()
        self.resolution_combo.setAccessibleName("Resolution")
        self.resolution_combo.setToolTip("The size Deadpan asks the camera for")
        for width, height in RESOLUTIONS:
            self.resolution_combo.addItem(f"{width} × {height}", f"{width}x{height}")
        self.fps_combo = QComboBox()
        self.fps_combo.setAccessibleName("Frame rate")
        self.fps_combo.setToolTip("Frames per second asked of the camera")
        for fps in FRAME_RATES:
            self.fps_combo.addItem(f"{fps} fps", fps)
        self.mirror_check = QCheckBox("&Mirror preview")
        self.mirror_check.setAccessibleName("Mirror preview")
        self.mirror_check.setToolTip("Flip the preview like a mirror; the call always sees you unflipped (Ctrl+M)")

        camera_row = QHBoxLayout()
        camera_row.addWidget(self.camera_combo, 1)
        camera_row.addWidget(self.open_file_button)
        format_row = QHBoxLayout()
        format_row.addWidget(self.resolution_combo, 1)
        format_row.addWidget(self.fps_combo)
        form = QFormLayout(self)
        form.addRow("Source", camera_row)
        form.addRow("Format", format_row)
        form.addRow(self.mirror_check)

        self.refresh()
        self.camera_combo.activated.connect(self._camera_chosen)
        self.resolution_combo.activated.connect(self._resolution_chosen)
        self.fps_combo.activated.connect(self._fps_chosen)
        self.open_file_button.clicked.connect(self.choose_file)
        self.mirror_check.toggled.connect(session.set_mirror)

        # On Linux listing reads sysfs (cheap, opens nothing), so it runs every 2 s and plugging in just works.
        # Elsewhere listing has to open devices, so it only runs when the user opens the camera list.
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(CAMERA_POLL_MS)
        self.poll_timer.timeout.connect(session.refresh_cameras)
        if sys.platform.startswith("linux"):
            self.poll_timer.start()
        else:
            self.camera_combo.showPopup = self._refresh_then_show_popup  # type: ignore[method-assign]

    def refresh(self) -> None:
        s = self.session.settings
        combos = (self.camera_combo, self.resolution_combo, self.fps_combo, self.mirror_check)
        blocked = [w.blockSignals(True) for w in combos]
        self.camera_combo.clear()
        for camera in self.session.cameras:
            self.camera_combo.addItem(camera.name or f"Camera {camera.id}", str(camera.id))
            self.camera_combo.setItemData(self.camera_combo.count() - 1, str(camera.path), 3)  # tooltip role
        current = self.session.source_state.spec
        if current is not None and self.camera_combo.findData(current) < 0:
            name = Path(current).name if Path(current).is_file() else current
            self.camera_combo.addItem(f"File: {name}" if Path(current).is_file() else name, current)
        if self.camera_combo.count() == 0:
            self.camera_combo.addItem("No camera found", None)
        self.camera_combo.setCurrentIndex(max(0, self.camera_combo.findData(current)))
        self.camera_combo.setEnabled(bool(self.session.cameras) or current is not None)
        self.resolution_combo.setCurrentIndex(max(0, self.resolution_combo.findData(f"{s.width}x{s.height}")))
        self.fps_combo.setCurrentIndex(max(0, self.fps_combo.findData(s.fps)))
        self.mirror_check.setChecked(s.mirror)
        is_file = current is not None and Path(current).is_file()
        for combo in (self.resolution_combo, self.fps_combo):
            combo.setEnabled(not is_file)  # a file plays at its own size and rate
        for widget, was in zip(combos, blocked):
            widget.blockSignals(was)

    def _refresh_then_show_popup(self) -> None:
        self.session.refresh_cameras()
        QComboBox.showPopup(self.camera_combo)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a video file", str(Path.home()), VIDEO_FILTER)
        if path:
            self.session.set_source(path, wait=False)  # opening happens off the GUI thread; events follow

    def _camera_chosen(self, index: int) -> None:
        spec = self.camera_combo.itemData(index)
        if spec is not None and spec != self.session.source_state.spec:
            self.session.set_source(spec, wait=False)

    def _resolution_chosen(self, index: int) -> None:
        width, height = (int(part) for part in self.resolution_combo.itemData(index).split("x"))
        self.session.set_resolution(width, height)

    def _fps_chosen(self, index: int) -> None:
        self.session.set_fps(self.fps_combo.itemData(index))
