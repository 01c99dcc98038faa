"""A tray icon with start/stop, panic and quit, where the desktop has a tray."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.gui.icons import app_icon
from app.session import Session


class Tray(QSystemTrayIcon):
    def __init__(self, session: Session, window: QWidget) -> None:
        super().__init__(app_icon(), window)
        self.session = session
        self.setToolTip("Deadpan")
        menu = QMenu(window)
        self.show_action = QAction("Show Deadpan", menu)
        self.show_action.triggered.connect(lambda: (window.showNormal(), window.raise_(), window.activateWindow()))
        self.camera_action = QAction("Start virtual camera", menu)
        self.camera_action.triggered.connect(self._toggle_camera)
        self.panic_action = QAction("Panic: obscure everything", menu)
        self.panic_action.setCheckable(True)
        self.panic_action.triggered.connect(session.set_panic)
        self.quit_action = QAction("Quit", menu)
        self.quit_action.triggered.connect(window.close)
        for action in (self.show_action, self.camera_action, self.panic_action, self.quit_action):
            menu.addAction(action)
        self.setContextMenu(menu)
        self._menu = menu

    def refresh(self) -> None:
        on = self.session.virtual_camera_state.state == "on"
        self.camera_action.setText("Stop virtual camera" if on else "Start virtual camera")
        self.panic_action.setChecked(self.session.panic)
        self.setToolTip("Deadpan: sending" if on else "Deadpan")

    def _toggle_camera(self) -> None:
        if self.session.virtual_camera_state.state == "on":
            self.session.stop_virtual_camera()
        else:
            self.session.start_virtual_camera(wait=False)


def make_tray(session: Session, window: QWidget) -> Tray | None:
    """A shown tray icon, or ``None`` when the platform has no tray (then the window alone does everything)."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = Tray(session, window)
    tray.show()
    return tray
