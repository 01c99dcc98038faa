"""The live before/after preview: one picture split by a divider the user drags (or moves with arrow keys).

Left of the divider is the raw camera image (only ever shown here, locally); right of it is exactly what the
call receives. Mirroring flips both halves for the user's comfort; the call always gets the unmirrored image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

HANDLE_GRAB_PX = 12


def bgr_to_qimage(frame_bgr: np.ndarray, mirror: bool = False) -> QImage:
    """A deep-copied QImage of a BGR uint8 frame (the numpy buffer may be reused by the engine)."""
    if mirror:
        frame_bgr = frame_bgr[:, ::-1]
    frame_bgr = np.ascontiguousarray(frame_bgr)
    height, width = frame_bgr.shape[:2]
    return QImage(frame_bgr.data, width, height, 3 * width, QImage.Format.Format_BGR888).copy()


class SplitPreview(QWidget):
    """``set_frames(before, after)`` with BGR arrays; ``split`` in 0..1 is the divider's place from the left."""

    split_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._split = 0.5
        self._mirror = False
        self._dragging = False
        self._empty_text = "Starting…"
        self._banner = ""
        self.frames_shown = 0
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAccessibleName("Live preview")
        self.setAccessibleDescription(
            "Before and after: the left part shows your camera as it is (only you see it), the right part shows "
            "what the call receives. Drag the divider or use the arrow keys to move it."
        )
        self.setToolTip("Drag the divider (or use ← →) to compare your camera with what the call sees")

    # ----- state --------------------------------------------------------------------------------------------------
    @property
    def split(self) -> float:
        return self._split

    def set_split(self, split: float) -> None:
        split = min(1.0, max(0.0, float(split)))
        if split != self._split:
            self._split = split
            self.split_changed.emit(split)
            self.update()

    @property
    def mirror(self) -> bool:
        return self._mirror

    def set_mirror(self, mirror: bool) -> None:
        self._mirror = bool(mirror)

    def set_frames(self, before_bgr: np.ndarray, after_bgr: np.ndarray) -> None:
        self._before = bgr_to_qimage(before_bgr, self._mirror)
        self._after = bgr_to_qimage(after_bgr, self._mirror)
        self.frames_shown += 1
        self.update()

    def clear(self, empty_text: str) -> None:
        """No picture: show ``empty_text`` (a friendly empty state, e.g. no camera)."""
        self._before = self._after = None
        self._empty_text = empty_text
        self.update()

    @property
    def empty_text(self) -> str:
        return self._empty_text if self._after is None else ""

    def set_banner(self, text: str) -> None:
        """A line drawn over the picture (e.g. panic), empty to hide it."""
        if text != self._banner:
            self._banner = text
            self.update()

    def has_picture(self) -> bool:
        return self._after is not None

    # ----- geometry -----------------------------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the picture is drawn: as large as fits, aspect kept, centred."""
        image = self._after
        if image is None or image.width() == 0:
            return QRectF(self.rect())
        scale = min(self.width() / image.width(), self.height() / image.height())
        w, h = image.width() * scale, image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _divider_x(self) -> float:
        rect = self.image_rect()
        return rect.left() + rect.width() * self._split

    # ----- painting -----------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e272c"))
        if self._after is None:
            painter.setPen(QColor("#cfd8dc"))
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            painter.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._empty_text,
            )
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = self.image_rect()
        painter.drawImage(rect, self._after)
        x = self._divider_x()
        if self._before is not None and self._split > 0:
            # Mirrored, the raw image stays on the left of the divider all the same.
            source_w = self._before.width() * self._split
            painter.drawImage(
                QRectF(rect.left(), rect.top(), x - rect.left(), rect.height()),
                self._before,
                QRectF(0, 0, source_w, self._before.height()),
            )
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#ffffff"), 2))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        painter.setBrush(QColor("#26a69a"))
        painter.drawEllipse(QPointF(x, rect.center().y()), 9, 9)
        self._draw_label(painter, QPointF(rect.left() + 10, rect.top() + 10), "Before · only you see this", left=True)
        self._draw_label(painter, QPointF(rect.right() - 10, rect.top() + 10), "After · sent to the call", left=False)
        if self._banner:
            self._draw_banner(painter, rect)
        painter.end()

    def _draw_label(self, painter: QPainter, anchor: QPointF, text: str, *, left: bool) -> None:
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 16, metrics.height() + 8
        box = QRectF(anchor.x() if left else anchor.x() - w, anchor.y(), w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _draw_banner(self, painter: QPainter, rect: QRectF) -> None:
        metrics = painter.fontMetrics()
        h = metrics.height() + 14
        box = QRectF(rect.left(), rect.bottom() - h, rect.width(), h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(183, 28, 28, 220))
        painter.drawRect(box)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._banner)

    # ----- interaction --------------------------------------------------------------------------------------------
    def _split_at(self, x: float) -> float:
        rect = self.image_rect()
        return (x - rect.left()) / rect.width() if rect.width() > 0 else 0.5

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self.set_split(self._split_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._dragging:
            self.set_split(self._split_at(event.position().x()))
        near = abs(event.position().x() - self._divider_x()) <= HANDLE_GRAB_PX
        self.setCursor(Qt.CursorShape.SplitHCursor if near or self._dragging else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self._dragging = False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        step = {Qt.Key.Key_Left: -0.05, Qt.Key.Key_Right: 0.05}.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        self.set_split(self._split + step)
