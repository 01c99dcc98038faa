"""The app icon: assets/icon.svg (rendered crisply at any DPI), or a painted stand-in if the file is missing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ICON_SVG = ASSETS / "icon.svg"
ICON_PNG = ASSETS / "icon.png"


def app_icon() -> QIcon:
    icon = QIcon()
    for path in (ICON_SVG, ICON_PNG):
        if path.is_file():
            icon.addFile(str(path))
    if icon.isNull():
        icon = QIcon(_painted_icon(256))
    return icon


def _painted_icon(size: int) -> QPixmap:
    # Installed without the assets folder (a wheel): the same face, drawn, so the window never lacks an icon.
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#263238"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRectF(0, 0, size, size), size * 0.22, size * 0.22)
    painter.setBrush(QColor("#eceff1"))
    painter.drawEllipse(QRectF(size * 0.2, size * 0.15, size * 0.6, size * 0.72))
    painter.setBrush(QColor("#263238"))
    painter.drawRoundedRect(QRectF(size * 0.35, size * 0.7, size * 0.3, size * 0.04), 3, 3)
    painter.end()
    return pixmap
