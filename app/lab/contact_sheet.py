"""A contact sheet: the same frame of each input under every filter and strength, face-cropped, one grid."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from filters.base import Face

TILE = 144
LABEL_WIDTH = 170
HEADER_HEIGHT = 28
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BACKGROUND = (255, 255, 255)
_INK = (40, 40, 40)


def face_box(face: Face, frame_shape: tuple[int, ...], scale: float = 1.6) -> tuple[int, int, int, int]:
    """A square box around the face (its landmark bounding box times ``scale``), clipped to the frame."""
    pts = face.points
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    side = max(x1 - x0, y1 - y0) * scale
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    height, width = frame_shape[:2]
    left = int(np.clip(cx - side / 2, 0, width - 1))
    top = int(np.clip(cy - side / 2, 0, height - 1))
    right = int(np.clip(cx + side / 2, left + 1, width))
    bottom = int(np.clip(cy + side / 2, top + 1, height))
    return left, top, right, bottom


def crop_tile(frame_bgr: np.ndarray, box: tuple[int, int, int, int] | None, size: int = TILE) -> np.ndarray:
    """The box (or the whole frame) resized to a ``size`` x ``size`` tile, aspect kept, white padding."""
    if box is not None:
        left, top, right, bottom = box
        frame_bgr = frame_bgr[top:bottom, left:right]
    height, width = frame_bgr.shape[:2]
    scale = size / max(height, width)
    resized = cv2.resize(frame_bgr, (max(1, round(width * scale)), max(1, round(height * scale))), cv2.INTER_AREA)
    tile = np.full((size, size, 3), 255, np.uint8)
    y, x = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    tile[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return tile


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.45) -> None:
    cv2.putText(canvas, text, origin, _FONT, scale, _INK, 1, cv2.LINE_AA)


def build_contact_sheet(
    rows: Sequence[tuple[str, Sequence[np.ndarray | None]]], column_titles: Sequence[str], tile: int = TILE
) -> np.ndarray:
    """Grid image: one row per ``(label, tiles)``, one column per title; a missing tile is left grey."""
    n_cols = len(column_titles)
    height = HEADER_HEIGHT + tile * max(len(rows), 1)
    width = LABEL_WIDTH + tile * n_cols
    sheet = np.full((height, width, 3), _BACKGROUND, np.uint8)
    for c, title in enumerate(column_titles):
        _text(sheet, title, (LABEL_WIDTH + c * tile + 6, HEADER_HEIGHT - 9))
    for r, (label, tiles) in enumerate(rows):
        y = HEADER_HEIGHT + r * tile
        for line, part in enumerate(label.split("\n")):
            _text(sheet, part[:22], (6, y + tile // 2 + line * 18 - 4))
        for c in range(n_cols):
            x = LABEL_WIDTH + c * tile
            image = tiles[c] if c < len(tiles) else None
            if image is None:
                sheet[y + 1 : y + tile - 1, x + 1 : x + tile - 1] = 200
            else:
                sheet[y : y + tile, x : x + tile] = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
    return sheet
