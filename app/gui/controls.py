"""Filter controls: the filter picker, the strength slider with its value, and the neutraliser's options."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.session import NEUTRALISE, Session
from app.settings_store import REGIONS
from filters import filter_class, filter_names

FILTER_LABELS = {
    "neutralise": "Neutralise expression",
    "blur": "Blur face",
    "pixelate": "Pixelate face",
    "mask": "Mask face",
}
REGION_LABELS = {"brows": "Brows", "eyes": "Eyes", "mouth": "Mouth"}


def filter_label(name: str) -> str:
    return FILTER_LABELS.get(name, name.replace("_", " ").capitalize())


def strength_controls(accessible_name: str) -> tuple[QSlider, QLabel, QHBoxLayout]:
    """A 0-100 % strength slider with its value beside it (the main window and the compare view share it)."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setPageStep(10)
    slider.setAccessibleName(accessible_name)
    value = QLabel()
    value.setMinimumWidth(40)
    value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(value)
    return slider, value, row


class FilterControls(QGroupBox):
    """Talks only to the :class:`Session`; reflects its settings and sends the user's changes to it."""

    calibrate_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Filter", parent)
        self.session = session
        self.filter_combo = QComboBox()
        self.filter_combo.setAccessibleName("Filter")
        self.filter_combo.setToolTip("What Deadpan does to your face before the call sees it")
        for name in filter_names():
            self.filter_combo.addItem(filter_label(name), name)
            description = getattr(filter_class(name), "description", "")
            if description:
                self.filter_combo.setItemData(self.filter_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)

        self.strength_slider, self.strength_value, strength_row = strength_controls("Strength")
        self.strength_slider.setToolTip("How strongly the filter acts (0% leaves the face as it is)")

        form = QFormLayout()
        form.addRow("&Filter", self.filter_combo)
        form.addRow("&Strength", strength_row)
        label = form.labelForField(strength_row)
        if isinstance(label, QLabel):
            label.setBuddy(self.strength_slider)

        self.neutraliser_box = QGroupBox("Neutraliser")
        self.region_checks: dict[str, QCheckBox] = {}
        regions_row = QHBoxLayout()
        for region in REGIONS:
            check = QCheckBox(REGION_LABELS[region])
            check.setAccessibleName(f"Neutralise {REGION_LABELS[region].lower()}")
            check.setToolTip(f"Hold your {REGION_LABELS[region].lower()} still at their neutral shape")
            check.toggled.connect(self._regions_toggled)
            self.region_checks[region] = check
            regions_row.addWidget(check)
        self.keep_speech = QCheckBox("Keep speech")
        self.keep_speech.setToolTip("Let the mouth move when you talk, so lip movement matches your voice")
        self.keep_speech.setAccessibleName("Keep speech")
        self.keep_blinks = QCheckBox("Keep blinks")
        self.keep_blinks.setToolTip("Let blinks through (a face that never blinks looks odd)")
        self.keep_blinks.setAccessibleName("Keep blinks")
        self.calibrate_button = QPushButton("&Calibrate neutral face…")
        self.calibrate_button.setToolTip("Capture your relaxed face as the neutral reference (Ctrl+K)")
        self.calibrate_button.setAccessibleName("Calibrate neutral face")
        self.calibrate_button.clicked.connect(self.calibrate_requested.emit)
        self.reference_label = QLabel()
        self.reference_label.setWordWrap(True)
        neutral_layout = QVBoxLayout(self.neutraliser_box)
        neutral_layout.addLayout(regions_row)
        toggles = QHBoxLayout()
        toggles.addWidget(self.keep_speech)
        toggles.addWidget(self.keep_blinks)
        neutral_layout.addLayout(toggles)
        neutral_layout.addWidget(self.calibrate_button)
        neutral_layout.addWidget(self.reference_label)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.neutraliser_box)

        self.refresh()
        self.filter_combo.currentIndexChanged.connect(self._filter_chosen)
        self.strength_slider.valueChanged.connect(self._strength_moved)
        self.keep_speech.toggled.connect(session.set_keep_speech)
        self.keep_blinks.toggled.connect(session.set_keep_blinks)

    def refresh(self) -> None:
        """Show the session's current settings without echoing them back."""
        s = self.session.settings
        widgets = [
            self.filter_combo,
            self.strength_slider,
            self.keep_speech,
            self.keep_blinks,
            *self.region_checks.values(),
        ]
        blocked = [w.blockSignals(True) for w in widgets]
        index = self.filter_combo.findData(s.filter_name)
        self.filter_combo.setCurrentIndex(max(0, index))
        self.strength_slider.setValue(round(self.session.strength * 100))
        for region, check in self.region_checks.items():
            check.setChecked(region in s.regions)
        self.keep_speech.setChecked(s.keep_speech)
        self.keep_blinks.setChecked(s.keep_blinks)
        for widget, was in zip(widgets, blocked):
            widget.blockSignals(was)
        self.strength_value.setText(f"{self.strength_slider.value()}%")
        self.neutraliser_box.setVisible(s.filter_name == NEUTRALISE)

    def set_reference_text(self, text: str) -> None:
        self.reference_label.setText(text)

    def _filter_chosen(self, index: int) -> None:
        name = self.filter_combo.itemData(index)
        if name:
            self.session.set_filter(name)
            self.refresh()

    def _strength_moved(self, value: int) -> None:
        self.strength_value.setText(f"{value}%")
        self.session.set_strength(value / 100)

    def _regions_toggled(self) -> None:
        self.session.set_regions([r for r, check in self.region_checks.items() if check.isChecked()])
