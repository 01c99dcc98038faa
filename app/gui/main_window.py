"""The main window: the live before/after preview with the controls beside it and live numbers below.

It talks only to the :class:`~app.session.Session` (through :class:`SessionBridge` for events from the
engine's thread) and saves the session's settings, debounced, whenever one changes.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.bridge import SessionBridge
from app.gui.calibration_dialog import CalibrationDialog
from app.gui.camera_picker import CameraPanel
from app.gui.compare_view import CompareView
from app.gui.controls import FilterControls
from app.gui.icons import app_icon
from app.gui.preview import SplitPreview
from app.gui.status_bar import StatsStatusBar
from app.gui.tray import make_tray
from app.gui.virtual_camera_panel import VirtualCameraPanel
from app.session import NEUTRALISE, Session, SourceState
from app.settings_store import SettingsStore

SAVE_DELAY_MS = 400  # settings are written once the slider stops moving, not on every step
PANIC_SHORTCUTS = ("F12", "Ctrl+Shift+P")
NO_CAMERA_TEXT = (
    "No camera found.\n\nPlug in a webcam (it appears here within a few seconds), or press “Video file…” "
    "to try Deadpan with a recording."
)
PANIC_BANNER = "PANIC: the call sees a fully obscured picture. Press F12 to resume."


class MainWindow(QMainWindow):
    def __init__(
        self,
        session: Session,
        store: SettingsStore | None = None,
        *,
        calibration_countdown_s: float = 3.0,
        calibration_capture_s: float = 3.0,
        tray: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.store = store
        self.calibration_countdown_s = calibration_countdown_s
        self.calibration_capture_s = calibration_capture_s
        self.calibration_dialog: CalibrationDialog | None = None
        self.compare_view: CompareView | None = None
        self.setWindowTitle("Deadpan")
        self.setWindowIcon(app_icon())
        self.bridge = SessionBridge(session, self)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setAccessibleName("Notice")
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_close = QPushButton("Dismiss")
        self.message_close.setAccessibleName("Dismiss notice")
        self.message_bar = QWidget()
        self.message_bar.setObjectName("messageBar")
        self.message_bar.setStyleSheet("#messageBar { background: #fff3e0; } QLabel { color: #4e342e; }")
        bar_layout = QHBoxLayout(self.message_bar)
        bar_layout.addWidget(self.message_label, 1)
        bar_layout.addWidget(self.message_close)
        self.message_bar.hide()
        self.message_close.clicked.connect(self.message_bar.hide)

        self.preview = SplitPreview()
        self.preview.set_split(session.settings.split)
        self.preview.set_mirror(session.settings.mirror)
        self.filter_controls = FilterControls(session)
        self.camera_panel = CameraPanel(session)
        self.virtual_camera_panel = VirtualCameraPanel(session)
        self.panic_button = QPushButton("Panic: obscure everything (F12)")
        self.panic_button.setCheckable(True)
        self.panic_button.setAccessibleName("Panic")
        self.panic_button.setToolTip("Instantly send a fully obscured picture to the call, and back (F12)")
        self.panic_button.setStyleSheet("QPushButton:checked { background: #c62828; color: white; }")
        self.panic_button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.panic_button.setMinimumHeight(self.panic_button.sizeHint().height() * 3 // 2)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.panic_button)
        side_layout.addWidget(self.virtual_camera_panel)
        side_layout.addWidget(self.filter_controls)
        self.compare_button = QPushButton("C&ompare filters…")
        self.compare_button.setToolTip(
            "Two filters or strengths side by side, with how much expression each lets "
            "through; only you see it (Ctrl+Shift+C)"
        )
        side_layout.addWidget(self.compare_button)
        side_layout.addWidget(self.camera_panel)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(side.sizeHint().width() + 24)
        scroll.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

        body = QHBoxLayout()
        body.addWidget(self.preview, 1)
        body.addWidget(scroll)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.message_bar)
        layout.addLayout(body, 1)
        self.setCentralWidget(central)
        self.status_bar = StatsStatusBar()
        self.setStatusBar(self.status_bar)

        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_settings)
        self._make_actions()
        self._connect()
        self._restore_geometry()
        self._refresh_reference_text()
        self.tray = make_tray(session, self) if tray else None
        if self.tray is not None:
            self.tray.refresh()

    # ----- wiring -------------------------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        def action(text: str, shortcuts: tuple[str, ...], slot, *, app_wide: bool = False) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(s) for s in shortcuts])
            if app_wide:  # panic must work even while a dialog has the focus
                act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.panic_action = action("Panic", PANIC_SHORTCUTS, self.toggle_panic, app_wide=True)
        self.open_action = action("Open video file", ("Ctrl+O",), self.camera_panel.choose_file)
        self.virtual_camera_action = action("Virtual camera", ("Ctrl+Shift+V",), self.toggle_virtual_camera)
        self.calibrate_action = action("Calibrate", ("Ctrl+K",), self.open_calibration)
        self.compare_action = action("Compare filters", ("Ctrl+Shift+C",), self.open_compare)
        self.mirror_action = action("Mirror", ("Ctrl+M",), lambda: self.camera_panel.mirror_check.toggle())
        self.quit_action = action("Quit", ("Ctrl+Q",), self.close)

    def _connect(self) -> None:
        b = self.bridge
        b.frame.connect(self._show_frame)
        b.status.connect(self._show_status)
        b.stats.connect(self.status_bar.show_stats)
        b.setting_changed.connect(self._setting_changed)
        b.virtual_camera.connect(self._virtual_camera_changed)
        b.cameras.connect(lambda _cameras: self.camera_panel.refresh())
        b.source.connect(self._source_changed)
        b.message.connect(self.show_message)
        self.preview.split_changed.connect(self.session.set_split)
        self.panic_button.clicked.connect(self.session.set_panic)
        self.filter_controls.calibrate_requested.connect(self.open_calibration)
        self.compare_button.clicked.connect(self.open_compare)
        b.setting_changed.connect(self._schedule_save)

    # ----- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the camera and start the engine, off the GUI thread (the window is already up and responsive)."""
        self.session.start(wait=False)  # the model and the camera load on the session's worker thread

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.session.set_window_geometry(bytes(self.saveGeometry().toBase64()).decode("ascii"))
        self.save_settings()
        if self.compare_view is not None:
            self.compare_view.close()
        self.bridge.detach()
        self.session.close()
        if self.tray is not None:
            self.tray.hide()
        super().closeEvent(event)

    def _restore_geometry(self) -> None:
        saved = self.session.settings.window_geometry
        if not saved or not self.restoreGeometry(QByteArray.fromBase64(saved.encode("ascii"))):
            # 1280x760, or less on a small screen (room left for the title bar and a panel).
            room = self.screen().availableGeometry()
            self.resize(min(1280, room.width() * 95 // 100), min(760, room.height() * 88 // 100))

    # ----- settings -----------------------------------------------------------------------------------------------
    def _schedule_save(self, name: str, value: object) -> None:
        if name != "panic":  # panic is never remembered: a restart must not start in panic, nor forget to
            self._save_timer.start()

    def save_settings(self) -> None:
        self._save_timer.stop()
        if self.store is None:
            return
        try:
            self.store.save(self.session.settings)
        except OSError as exc:
            self.show_message(f"Could not save your settings to {self.store.path}: {exc.strerror or exc}")

    # ----- actions ------------------------------------------------------------------------------------------------
    def toggle_panic(self) -> None:
        self.session.toggle_panic()

    def toggle_virtual_camera(self) -> None:
        if self.session.virtual_camera_state.state == "on":
            self.session.stop_virtual_camera()
        else:
            self.session.start_virtual_camera(wait=False)

    def open_calibration(self) -> None:
        if self.session.settings.filter_name != NEUTRALISE:
            self.session.set_filter(NEUTRALISE)
            self.filter_controls.refresh()
        if not self.session.can_calibrate:
            self.show_message("Calibration needs a camera (or video file) showing your face.")
            return
        dialog = CalibrationDialog(
            self.session, self, countdown_s=self.calibration_countdown_s, capture_s=self.calibration_capture_s
        )
        dialog.finished.connect(lambda _result: self._refresh_reference_text())
        dialog.finished_capture.connect(lambda _ok: self._refresh_reference_text())
        dialog.reference_changed.connect(self._refresh_reference_text)
        self.calibration_dialog = dialog
        dialog.open()

    def open_compare(self) -> None:
        """The compare view (local only: the call keeps getting this window's filter); one at a time."""
        if self.compare_view is None:
            self.compare_view = CompareView(self.session, self)
            self.compare_view.finished.connect(self._compare_closed)
        self.compare_view.show()
        self.compare_view.raise_()
        self.compare_view.activateWindow()

    def _compare_closed(self) -> None:
        view, self.compare_view = self.compare_view, None
        if view is not None:
            view.deleteLater()

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_bar.show()

    # ----- engine -> view -----------------------------------------------------------------------------------------
    def _show_frame(self, result) -> None:
        self.preview.set_frames(result.source_image, result.output)

    def _show_status(self, status) -> None:
        self.status_bar.show_status(status)
        self.preview.set_banner(PANIC_BANNER if status.state == "panic" else "")

    def _setting_changed(self, name: str, value: object) -> None:
        if name == "panic":
            self._update_title()
            self.panic_button.setChecked(bool(value))
            self.preview.set_banner(PANIC_BANNER if value else "")
        elif name == "mirror":
            self.preview.set_mirror(bool(value))
        self._refresh_reference_text()  # a new filter, or new neutraliser options, starts from the auto reference
        if self.tray is not None:
            self.tray.refresh()

    def _update_title(self) -> None:
        state = self.session.virtual_camera_state
        if self.session.panic:
            self.setWindowTitle("Deadpan — PANIC: sending an obscured picture")
        elif state.state == "on":
            self.setWindowTitle(f"Deadpan — sending to {state.device}")
        else:
            self.setWindowTitle("Deadpan")

    def _virtual_camera_changed(self, state) -> None:
        self.virtual_camera_panel.show_state(state)
        self._update_title()
        if self.tray is not None:
            self.tray.refresh()

    def _source_changed(self, state: SourceState) -> None:
        self.camera_panel.refresh()
        if state.state == "none":
            self.preview.clear(NO_CAMERA_TEXT)
            self.status_bar.show_no_source()
        elif state.state == "failed" and not self.session.running:
            self.preview.clear(f"{state.message}\n\nChoose another camera, or press “Video file…”.")
            self.status_bar.show_no_source(state.message)

    def _refresh_reference_text(self) -> None:
        # Before the engine has built the neutraliser, a saved face is what it will start with.
        source = self.session.reference_source or ("saved" if self.session.has_saved_reference else None)
        text = {
            "calibrated": "Using your calibrated neutral face.",
            "saved": "Using your saved neutral face.",
            "file": "Using a neutral face loaded from a file.",
        }.get(
            source or "",
            self.session.saved_reference_problem or "Using an automatic neutral reference until you calibrate.",
        )
        self.filter_controls.set_reference_text(text)
