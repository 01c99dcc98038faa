"""The fail-closed outputs: what the pipeline sends when it cannot filter a face (no face found, a stage
raised, start-up, panic). Neither depends on tracking, so neither can fail the way a filter can."""

from __future__ import annotations

import cv2
import numpy as np

# The whole frame is averaged down to this many cells along its longer side, the cells are smoothed once more
# (3x3 Gaussian) and upscaled bilinearly. Even a face filling the frame's height ends up ~7 cells across, then
# smeared: colour and rough layout survive (the call does not look broken), identity and expression do not.
OBSCURE_CELLS = 12
SAMPLES_PER_CELL = 8
CARD_COLOR = (48, 44, 40)  # BGR: dark slate, calm rather than an alarming black
CARD_TEXT_COLOR = (235, 235, 235)


def obscure_frame(frame: np.ndarray) -> np.ndarray:
    """A new frame of the same shape with nothing recognisable left (well under 2 ms at 1280x720)."""
    height, width = frame.shape[:2]
    scale = OBSCURE_CELLS / max(height, width)
    cells = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging straight down to a dozen cells takes OpenCV's slow general path (~3 ms at 720p). Bilinear
    # sampling onto a grid 8x finer first (every ~13 px at 720p) and area-averaging that is 20x cheaper, and each
    # cell is still the mean of 256 taps spread over its whole area.
    samples = cv2.resize(
        frame, (cells[0] * SAMPLES_PER_CELL, cells[1] * SAMPLES_PER_CELL), interpolation=cv2.INTER_LINEAR
    )
    small = cv2.resize(samples, cells, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), 0, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def card_frame(height: int, width: int, text: str = "Camera paused") -> np.ndarray:
    """A plain card: a flat background with ``text`` centred, sized to fit the frame's width."""
    card = np.empty((height, width, 3), np.uint8)
    card[:] = CARD_COLOR
    if not text:
        return card
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(height / 360))
    (text_w, text_h), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = min(height / 12 / text_h, width * 0.8 / text_w)  # ~1/12 of the height, never wider than 80%
    (text_w, text_h), baseline = cv2.getTextSize(text, font, scale, thickness)
    origin = ((width - text_w) // 2, (height + text_h) // 2)
    cv2.putText(card, text, origin, font, scale, CARD_TEXT_COLOR, thickness, cv2.LINE_AA)
    return card
