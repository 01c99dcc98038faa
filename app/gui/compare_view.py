"""The compare view: two filters (or two strengths of one) side by side on the live picture, each with its live
leakage figures. Everything here is local: the call keeps receiving the main window's filter.

The work (applying both filters, re-measuring with a separate landmarker) runs on the
:class:`~app.lab.live_compare.LiveComparison`'s own thread; this window only paints the newest result it posts.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.controls import filter_label, strength_controls
from app.gui.mailbox import NewestOnlyMailbox
from app.gui.preview import bgr_to_qimage
from app.lab.live_compare import MIN_SAMPLES, ComparisonFrame, LiveComparison, SideFigures, SideSettings
from app.session import NEUTRALISE, Session
from filters import filter_names

FAMILY_LABELS = {
    "smile": "Smile",
    "brows": "Brows",
    "eyes": "Eyes",
    "mouth_open": "Mouth opening",
    "frown": "Frown",
}
LEAKAGE_HELP = (
    "Expression leakage: how much of your expression still shows in this picture (100% = all of it, 0% = none). "
    "A separate face tracker measures your camera picture and this picture a few times a second; the figure covers "
    "the last ~10 seconds, against your most neutral moment so far. “Face kept” tells a neutral face from an "
    "erased one: leakage 0% with face kept 0% means the face is gone."
)
BAR_STYLE = (
    "QProgressBar { text-align: center; color: #263238; background: #eceff1; border: 1px solid #b0bec5;"
    " border-radius: 3px; } QProgressBar::chunk { background: %s; border-radius: 2px; }"
)
ERASED_BELOW = 0.5  # face kept under this: the low leakage is the face being erased, say so


def percent(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.0%}"


def leakage_color(value: float, *, light: bool = False) -> str:
    """Green for little leakage, amber, red for most of it (what a user scanning the figures looks for); dark
    shades for text, ``light`` ones for bars with dark text over them."""
    if math.isnan(value):
        return "#b0bec5" if light else "#607d8b"
    shades = ("#81c784", "#ffb74d", "#e57373") if light else ("#2e7d32", "#e65100", "#c62828")
    return shades[0] if value < 0.25 else shades[1] if value < 0.6 else shades[2]


class FramePanel(QWidget):
    """One picture, as large as fits with its aspect kept, with a caption drawn over its top-left corner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._caption = ""
        self._empty_text = "Waiting for the camera…"
        self.frames_shown = 0
        self.setMinimumSize(280, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage) -> None:
        self._image = image
        self.frames_shown += 1
        self.update()

    def set_caption(self, text: str) -> None:
        self._caption = text
        self.update()

    def has_picture(self) -> bool:
        return self._image is not None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e272c"))
        image = self._image
        if image is None or image.width() == 0:
            painter.setPen(QColor("#cfd8dc"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._empty_text)
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        scale = min(self.width() / image.width(), self.height() / image.height())
        w, h = image.width() * scale, image.height() * scale
        rect = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        painter.drawImage(rect, image)
        if self._caption:
            metrics = painter.fontMetrics()
            box = QRectF(rect.left() + 8, rect.top() + 8, metrics.horizontalAdvance(self._caption) + 16, 0)
            box.setHeight(metrics.height() + 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._caption)
        painter.end()


class FiguresPanel(QWidget):
    """A side's live figures: leakage (large), face kept and cost, and one bar per expression family."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figures: SideFigures | None = None
        self.leakage_label = QLabel("Expression leakage: measuring…")
        self.leakage_label.setAccessibleName("Expression leakage")
        self.leakage_label.setToolTip(LEAKAGE_HELP)
        font = QFont(self.leakage_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.leakage_label.setFont(font)
        self.detail_label = QLabel()
        self.detail_label.setAccessibleName("Face kept and cost")
        self.detail_label.setWordWrap(True)
        self.detail_label.setToolTip(
            "Face kept: share of measured pictures in which a face is still found. ms/frame: the filter's own time."
        )
        self.family_bars: dict[str, QProgressBar] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        for row, (family, label) in enumerate(FAMILY_LABELS.items()):
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setTextVisible(True)
            bar.setMaximumHeight(16)
            bar.setAccessibleName(f"{label} leakage")
            bar.setToolTip(f"How much of your {label.lower()} still shows (— : you have not shown it yet)")
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(bar, row, 1)
            self.family_bars[family] = bar
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.leakage_label)
        layout.addWidget(self.detail_label)
        layout.addLayout(grid)
        self.show_figures(None)

    def show_figures(self, figures: SideFigures | None) -> None:
        self.figures = figures
        if figures is None or not figures.ready:
            samples = 0 if figures is None else figures.samples
            self.leakage_label.setText(f"Expression leakage: measuring… ({samples} of {MIN_SAMPLES})")
            self.leakage_label.setStyleSheet("color: #607d8b;")
        elif math.isnan(figures.leakage):
            self.leakage_label.setText("Expression leakage: — (show some expression)")
            self.leakage_label.setStyleSheet("color: #607d8b;")
        else:
            self.leakage_label.setText(f"Expression leakage: {percent(figures.leakage)}")
            self.leakage_label.setStyleSheet(f"color: {leakage_color(figures.leakage)};")
        parts = []
        if figures is not None:
            parts.append(f"Face kept {percent(figures.face_kept)}")
            if not math.isnan(figures.face_kept) and figures.face_kept < ERASED_BELOW:
                parts[-1] += " (face erased)"
            if not math.isnan(figures.ms_per_frame):
                parts.append(f"{figures.ms_per_frame:.1f} ms/frame")
            if figures.error:
                parts.append(f"Problem: {figures.error}")
        self.detail_label.setText(" · ".join(parts))
        families = figures.family_leakage if figures is not None else {}
        for family, bar in self.family_bars.items():
            value = families.get(family, math.nan)
            bar.setValue(0 if math.isnan(value) else round(min(value, 1.0) * 100))
            bar.setFormat(percent(value))
            style = BAR_STYLE % leakage_color(value, light=True)
            if bar.styleSheet() != style:  # restyling is not free: only when the colour changes
                bar.setStyleSheet(style)


class CompareSide(QGroupBox):
    """A filter picker and strength slider, the side's picture and its figures. ``changed`` carries the new
    :class:`SideSettings` when the user changes either."""

    changed = Signal(object)

    def __init__(self, title: str, session: Session, settings: SideSettings, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.session = session
        self.filter_combo = QComboBox()
        self.filter_combo.setAccessibleName(f"{title} filter")
        for name in filter_names():
            self.filter_combo.addItem(filter_label(name), name)
        self.filter_combo.setCurrentIndex(max(0, self.filter_combo.findData(settings.filter_name)))
        self.strength_slider, self.strength_value, strength_row = strength_controls(f"{title} strength")
        self.strength_slider.setValue(round(settings.strength * 100))
        form = QFormLayout()
        form.addRow("Filter", self.filter_combo)
        form.addRow("Strength", strength_row)
        self.preview = FramePanel()
        self.preview.setAccessibleName(f"{title} preview (not sent)")
        self.figures_panel = FiguresPanel()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.figures_panel)
        self._update_caption()
        self.filter_combo.currentIndexChanged.connect(self._changed)
        self.strength_slider.valueChanged.connect(self._changed)

    def settings(self) -> SideSettings:
        name = self.filter_combo.currentData()
        return SideSettings(name, self.strength_slider.value() / 100, side_options(self.session, name))

    def set_settings(self, filter_name: str, strength: float) -> None:
        """Set both controls (as the user would), announcing one change."""
        blocked = self.filter_combo.blockSignals(True)
        self.filter_combo.setCurrentIndex(self.filter_combo.findData(filter_name))
        self.filter_combo.blockSignals(blocked)
        self.strength_slider.setValue(round(strength * 100))
        self._changed()

    def _changed(self, *_args: object) -> None:
        self._update_caption()
        self.figures_panel.show_figures(None)
        self.changed.emit(self.settings())

    def _update_caption(self) -> None:
        self.preview.set_caption(f"{self.filter_combo.currentText()} · {self.strength_slider.value()}%")


def side_options(session: Session, name: str) -> dict:
    """The main window's options for ``name``; for the neutraliser also the user's calibrated (or loaded) neutral
    face, so a side compares what the call would get rather than a fresh automatic reference."""
    options = dict(session.filter_options(name))
    if name == NEUTRALISE and session.reference_source in ("calibrated", "saved", "file"):
        reference = session.reference()
        if reference is not None:
            options["reference"] = reference
    return options


def default_sides(session: Session) -> tuple[SideSettings, SideSettings]:
    """Left: what the call gets now. Right: the neutraliser (or, when that is already on the left, blur)."""
    current = session.settings.filter_name
    other = NEUTRALISE if current != NEUTRALISE and NEUTRALISE in filter_names() else "blur"
    left = SideSettings(current, session.strength, side_options(session, current))
    right = SideSettings(other, session.settings.strength_for(other), side_options(session, other))
    return left, right


class CompareView(QDialog):
    """Opened from the main window (Ctrl+Shift+C). Starts comparing when shown, stops when closed."""

    def __init__(self, session: Session, parent: QWidget | None = None, **comparison_options: float) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Deadpan — Compare filters")
        self.setAccessibleName("Compare filters")
        left, right = default_sides(session)
        self.comparison = LiveComparison(left, right, model_path=session.model_path, **comparison_options)
        self.notice = QLabel()
        self.notice.setObjectName("compareNotice")
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Local comparison notice")
        self.notice.setStyleSheet("#compareNotice { background: #e3f2fd; color: #0d47a1; padding: 6px; }")
        self.left = CompareSide("Left", session, left)
        self.right = CompareSide("Right", session, right)
        sides = QHBoxLayout()
        sides.addWidget(self.left, 1)
        sides.addWidget(self.right, 1)
        self.help = QLabel(LEAKAGE_HELP)
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #546e7a;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addLayout(sides, 1)
        layout.addWidget(self.help)
        self.resize(1100, 720)
        self.results_shown = 0
        self._mailbox = NewestOnlyMailbox(self)
        self._mailbox.ready.connect(self._show_result)
        self.left.changed.connect(lambda settings: self.comparison.set_side("left", settings))
        self.right.changed.connect(lambda settings: self.comparison.set_side("right", settings))
        self._connected = False
        self._update_notice()

    # ----- lifecycle ----------------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._connected:
            self._connected = True
            self._mailbox.set_open(True)
            self.comparison.events.result.connect(self._mailbox.offer)
            self.comparison.start()
            self.session.events.frame.connect(self.comparison.submit)  # engine thread: it only stores the frame
            self.session.events.source.connect(self._source_changed)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        """Stop comparing (never waits on the GUI thread: the worker finishes its step on its own)."""
        if self._connected:
            self._connected = False
            self.session.events.frame.disconnect(self.comparison.submit)
            self.session.events.source.disconnect(self._source_changed)
            self.comparison.events.result.disconnect(self._mailbox.offer)
            self._mailbox.set_open(False)
            self.comparison.stop(wait=False)

    def _source_changed(self, state) -> None:
        if state.state == "open":  # another camera or file: maybe another person, another neutral face
            self.comparison.reset()

    # ----- results --------------------------------------------------------------------------------------------
    def _show_result(self, frame: ComparisonFrame) -> None:
        mirror = self.session.settings.mirror  # like the main preview: mirrored for the user's comfort only
        self.left.preview.set_image(bgr_to_qimage(frame.left_output, mirror))
        self.right.preview.set_image(bgr_to_qimage(frame.right_output, mirror))
        settings = self.comparison.settings
        # Figures of settings the user has already changed away from would be mislabelled: wait for fresh ones.
        for side, figures in ((self.left, frame.left), (self.right, frame.right)):
            if figures.settings == settings["left" if side is self.left else "right"]:
                side.figures_panel.show_figures(figures)
        self.results_shown += 1
        self._update_notice()

    def _update_notice(self) -> None:
        name = self.session.settings.filter_name
        text = (
            "Local comparison only: nothing in this window is sent. The call keeps receiving "
            f"“{filter_label(name)}” at {round(self.session.strength * 100)}%, as set in the main window."
        )
        if text != self.notice.text():
            self.notice.setText(text)
