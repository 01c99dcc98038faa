"""The virtual camera: a start/stop switch, what to pick in the call app, a "sending" light, and when it cannot
start, the doctor's findings with their fixes right in the window."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.session import Session, VirtualCameraState

SENDING_TIMEOUT_S = 1.0  # no frame for this long: the light goes out


class VirtualCameraPanel(QGroupBox):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Virtual camera", parent)
        self.session = session
        self.toggle_button = QPushButton()
        self.toggle_button.setCheckable(True)
        self.toggle_button.setAccessibleName("Virtual camera on or off")
        self.toggle_button.setToolTip("Start or stop sending to the virtual camera (Ctrl+Shift+V)")
        self.toggle_button.clicked.connect(self._toggle)
        self.light = QLabel()
        self.light.setFixedSize(14, 14)
        self.light.setAccessibleName("Sending indicator")
        self.sending_label = QLabel()
        self.sending_label.setAccessibleName("Sending status")
        self.device_label = QLabel()
        self.device_label.setWordWrap(True)
        self.device_label.setTextFormat(Qt.TextFormat.RichText)
        self.device_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings_label = QLabel()
        self.findings_label.setWordWrap(True)
        self.findings_label.setTextFormat(Qt.TextFormat.RichText)
        self.findings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings_label.setAccessibleName("Virtual camera problems and fixes")
        self.findings_label.setStyleSheet("QLabel { background: #fff3e0; color: #4e342e; padding: 6px; }")
        self.findings_label.hide()

        light_row = QHBoxLayout()
        light_row.addWidget(self.light)
        light_row.addWidget(self.sending_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.toggle_button)
        layout.addLayout(light_row)
        layout.addWidget(self.device_label)
        layout.addWidget(self.findings_label)

        self._light_timer = QTimer(self)
        self._light_timer.setInterval(250)
        self._light_timer.timeout.connect(self._update_light)
        self._light_timer.start()
        self.show_state(session.virtual_camera_state)

    @property
    def sending(self) -> bool:
        """Frames really reached the virtual camera within the last second (counted at the driver call)."""
        tap = self.session.virtual_camera_sink
        return tap is not None and time.monotonic() - tap.last_sent_at < SENDING_TIMEOUT_S

    def show_state(self, state: VirtualCameraState) -> None:
        on = state.state == "on"
        self.toggle_button.setChecked(on)
        self.toggle_button.setText("Stop virtual camera" if on else "Start virtual camera")
        if on:
            self.device_label.setText(
                f"In Zoom, Meet or Teams: choose <b>{html.escape(state.device)}</b> as your camera."
            )
        elif state.state == "starting":
            self.device_label.setText("Starting…")
        elif state.state == "failed" and any(not getattr(f, "ok", True) for f in state.findings):
            self.device_label.setText("The virtual camera could not start. Nothing is being sent.")
        elif state.state == "failed":
            self.device_label.setText(f"The virtual camera could not start: {html.escape(state.message)}")
        else:
            self.device_label.setText("Off: the call does not receive anything from Deadpan.")
        self._show_findings(state)
        self._update_light()

    def _show_findings(self, state: VirtualCameraState) -> None:
        problems = [f for f in state.findings if not getattr(f, "ok", True)]
        if state.state != "failed" or not problems:
            self.findings_label.hide()
            return
        items = "".join(
            f"<li><b>{html.escape(f.check)}</b>: {html.escape(f.message)}"
            + (f"<br/>Fix: {html.escape(f.fix)}" if f.fix else "")
            + "</li>"
            for f in problems
        )
        self.findings_label.setText(f"<b>What is wrong and how to fix it</b><ul>{items}</ul>")
        self.findings_label.show()

    def _update_light(self) -> None:
        sending = self.sending
        colour = "#43a047" if sending else ("#fb8c00" if self.session.virtual_camera_state.state == "on" else "#9e9e9e")
        self.light.setStyleSheet(f"QLabel {{ background: {colour}; border-radius: 7px; }}")
        if sending:
            text = "Sending to the call"
        elif self.session.virtual_camera_state.state == "on":
            text = "On, waiting for frames"
        else:
            text = "Not sending"
        if self.sending_label.text() != text:
            self.sending_label.setText(text)

    def _toggle(self, checked: bool) -> None:
        if checked:
            self.session.start_virtual_camera(wait=False)
        else:
            self.session.stop_virtual_camera()
        self.show_state(self.session.virtual_camera_state)
