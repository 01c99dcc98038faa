"""Filter controls: the filter picker, the strength slider with its value, and the neutraliser's options (each
region on or off with its own strength slider, keep speech, keep blinks, calibration)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.session import NEUTRALISE, Session
from app.settings_store import MAX_FACES, REGIONS
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
    """A 0-100 % strength slider with its value beside it (the main window and the compare view share it). The
    label follows the slider's ``valueChanged``; whoever sets the slider with its signals blocked sets the label
    too (:func:`show_percent`)."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setPageStep(10)
    slider.setAccessibleName(accessible_name)
    value = QLabel()
    show_percent(value, slider.value())
    slider.valueChanged.connect(partial(show_percent, value))
    value.setMinimumWidth(40)
    value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(value)
    return slider, value, row


def show_percent(label: QLabel, value: int) -> None:
    label.setText(f"{value}%")


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

        self.faces_spin = QSpinBox()
        self.faces_spin.setRange(1, MAX_FACES)
        self.faces_spin.setAccessibleName("Faces to filter")
        self.faces_spin.setToolTip(
            "How many faces Deadpan filters (for people sharing the camera). With more faces in view than this, "
            "the call gets a fully obscured picture."
        )

        form = QFormLayout()
        form.addRow("&Filter", self.filter_combo)
        form.addRow("&Strength", strength_row)
        form.addRow("F&aces", self.faces_spin)
        label = form.labelForField(strength_row)
        if isinstance(label, QLabel):
            label.setBuddy(self.strength_slider)

        self.neutraliser_box = QGroupBox("Neutraliser")
        self.region_checks: dict[str, QCheckBox] = {}
        self.region_sliders: dict[str, QSlider] = {}
        self.region_values: dict[str, QLabel] = {}
        regions_grid = QGridLayout()  # each region: its on/off box, then how strongly it is neutralised
        for row, region in enumerate(REGIONS):
            label = REGION_LABELS[region]
            check = QCheckBox(label)
            check.setAccessibleName(f"Neutralise {label.lower()}")
            check.setToolTip(f"Hold your {label.lower()} still at their neutral shape")
            check.toggled.connect(self._regions_toggled)
            slider, value, slider_row = strength_controls(f"{label} strength")
            slider.setToolTip(f"{label}: how strongly the neutraliser acts here (0% leaves this part as it is)")
            slider.valueChanged.connect(partial(self._region_strength_moved, region))
            self.region_checks[region], self.region_sliders[region], self.region_values[region] = check, slider, value
            regions_grid.addWidget(check, row, 0)
            regions_grid.addLayout(slider_row, row, 1)
        regions_grid.setColumnStretch(1, 1)
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
        neutral_layout.addLayout(regions_grid)
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
        self.faces_spin.valueChanged.connect(session.set_max_faces)

    def refresh(self) -> None:
        """Show the session's current settings without echoing them back."""
        s = self.session.settings
        widgets = [
            self.filter_combo,
            self.strength_slider,
            self.keep_speech,
            self.keep_blinks,
            self.faces_spin,
            *self.region_checks.values(),
            *self.region_sliders.values(),
        ]
        blocked = [w.blockSignals(True) for w in widgets]
        index = self.filter_combo.findData(s.filter_name)
        self.filter_combo.setCurrentIndex(max(0, index))
        self.strength_slider.setValue(round(self.session.strength * 100))
        for region, check in self.region_checks.items():
            check.setChecked(region in s.regions)
            self.region_sliders[region].setValue(round(s.region_strength[region] * 100))
        self.keep_speech.setChecked(s.keep_speech)
        self.keep_blinks.setChecked(s.keep_blinks)
        self.faces_spin.setValue(s.max_faces)
        for widget, was in zip(widgets, blocked):
            widget.blockSignals(was)
        show_percent(self.strength_value, self.strength_slider.value())  # set above with signals blocked
        for region, slider in self.region_sliders.items():
            show_percent(self.region_values[region], slider.value())
        self._enable_region_sliders()
        self.neutraliser_box.setVisible(s.filter_name == NEUTRALISE)

    def set_reference_text(self, text: str) -> None:
        self.reference_label.setText(text)

    def _filter_chosen(self, index: int) -> None:
        name = self.filter_combo.itemData(index)
        if name:
            self.session.set_filter(name)
            self.refresh()

    def _strength_moved(self, value: int) -> None:
        self.session.set_strength(value / 100)

    def _regions_toggled(self) -> None:
        self.session.set_regions([r for r, check in self.region_checks.items() if check.isChecked()])
        self._enable_region_sliders()

    def _region_strength_moved(self, region: str, value: int) -> None:
        self.session.set_region_strength(region, value / 100)

    def _enable_region_sliders(self) -> None:
        # A region that is off has no strength to set: its slider keeps its value for when it is on again.
        for region, check in self.region_checks.items():
            self.region_sliders[region].setEnabled(check.isChecked())
            self.region_values[region].setEnabled(check.isChecked())
