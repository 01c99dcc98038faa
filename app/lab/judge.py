"""A second opinion on expression: an independent facial-expression classifier (FER-2013 mini_XCEPTION, ONNX).

Deadpan did not train it and no filter was tuned against it, so "the judge no longer sees a smile" is evidence
beside the blendshapes. It is weak (about 44% on 7 posed classes): read its label *distribution* over many frames,
not single calls. Runs in OpenCV's own DNN module, no extra runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from filters.base import Face

INPUT_SIZE = 64
CROP_MARGIN = 0.10  # around the landmark bounding box, as the model's training crops had


class JudgeError(Exception):
    """The classifier file cannot be used; the message says why and what to do."""


class ExpressionJudge:
    """``classify(frame_bgr, face) -> (7,)`` softmax probabilities in :attr:`LABELS` order."""

    LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    NEUTRAL = LABELS.index("neutral")

    def __init__(self, onnx_path: str | Path) -> None:
        path = Path(onnx_path)
        if not path.is_file():
            raise JudgeError(f"expression classifier not found: {path} (pass --judge PATH.onnx, or leave it out)")
        labels_file = path.with_name("labels.txt")
        if labels_file.is_file():
            labels = tuple(line.strip() for line in labels_file.read_text().splitlines() if line.strip())
            if labels != self.LABELS:
                raise JudgeError(f"{labels_file} lists {labels}; this judge expects {self.LABELS}")
        try:
            self._net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise JudgeError(f"cannot load {path} as an ONNX network: {str(exc).strip().splitlines()[-1]}") from None

    @staticmethod
    def crop(frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        """The model's input for one face: a square grayscale 64x64 crop around the landmark bounding box plus
        10%, edge pixels repeated where the square leaves the frame."""
        pts = face.points
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * CROP_MARGIN)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        size = max(int(round(side)), 1)
        height, width = frame_bgr.shape[:2]
        pad = max(0, -left, -top, left + size - width, top + size - height)
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        if pad:
            gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        square = gray[top + pad : top + pad + size, left + pad : left + pad + size]
        return cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)

    def classify_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) probabilities for 64x64 grayscale uint8 crops."""
        if not len(crops):
            return np.zeros((0, len(self.LABELS)), np.float32)
        batch = np.stack(crops).astype(np.float32)[..., None]
        batch = (batch / 255.0 - 0.5) * 2.0
        self._net.setInput(batch)
        return np.asarray(self._net.forward(), np.float32).reshape(len(crops), len(self.LABELS))

    def classify(self, frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        """(7,) probabilities for one face in one frame."""
        return self.classify_crops([self.crop(frame_bgr, face)])[0]

    def classify_batch(self, frames: Sequence[np.ndarray], faces: Sequence[Face | None]) -> np.ndarray:
        """(N, 7) probabilities; NaN rows for frames without a face."""
        out = np.full((len(frames), len(self.LABELS)), np.nan, np.float32)
        present = [i for i, face in enumerate(faces) if face is not None]
        if present:
            out[present] = self.classify_crops([self.crop(frames[i], faces[i]) for i in present])
        return out


def top_labels(probs: np.ndarray) -> np.ndarray:
    """(N,) index of the most likely label per row; -1 for NaN rows (no face)."""
    probs = np.asarray(probs, np.float32)
    found = ~np.isnan(probs).any(axis=1)
    return np.where(found, np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1), -1)


def label_distribution(labels: np.ndarray, n_labels: int = len(ExpressionJudge.LABELS)) -> np.ndarray:
    """(n_labels,) share of frames (with a face) per label; zeros if no frame has one."""
    labels = np.asarray(labels)
    labels = labels[labels >= 0]
    counts = np.bincount(labels, minlength=n_labels).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def confusion_table(input_labels: np.ndarray, output_labels: np.ndarray, n_labels: int = 7) -> np.ndarray:
    """(n_labels, n_labels + 1) counts: row = the judge's label on the input frame, column = its label on the
    output frame; the last column counts output frames where no face was found. Input frames without a face
    are left out."""
    table = np.zeros((n_labels, n_labels + 1), np.int64)
    for a, b in zip(np.asarray(input_labels), np.asarray(output_labels)):
        if a >= 0:
            table[a, b if b >= 0 else n_labels] += 1
    return table


def format_confusion(table: np.ndarray, labels: Sequence[str] = ExpressionJudge.LABELS) -> str:
    """A plain-text confusion table (rows: input label, columns: output label, '-' = no face)."""
    columns = [*labels, "-"]
    width = max(len(c) for c in columns) + 1
    lines = ["in \\ out".ljust(width) + "".join(c.rjust(width) for c in columns)]
    for label, row in zip(labels, table):
        if row.sum():
            lines.append(label.ljust(width) + "".join(str(int(v)).rjust(width) for v in row))
    return "\n".join(lines)
