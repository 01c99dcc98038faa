"""Frame painters: what a camera sees when the world misbehaves. Each takes a clean frame and its true faces
(tracked on the clean clip) and returns the painted frame and where the faces truly are in it now, so the
leak check knows which region to look at even when the pipeline's tracker cannot see the face."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from filters import Face

Faces = tuple[Face, ...]


def moved_face(face: Face, matrix: np.ndarray, face_id: int | None = None) -> Face:
    """``face`` with its landmarks mapped by the 2x3 affine ``matrix`` (z scaled like x)."""
    landmarks = face.landmarks.copy()
    landmarks[:, :2] = face.points @ matrix[:, :2].T + matrix[:, 2]
    landmarks[:, 2] *= float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return Face(landmarks, face.blendshapes, face.pose, face.face_id if face_id is None else face_id)


def on_frame(face: Face, shape_hw: tuple[int, int], min_fraction: float = 0.2) -> bool:
    """Whether at least ``min_fraction`` of the face's landmarks are inside the frame."""
    height, width = shape_hw
    pts = face.points
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    return float(inside.mean()) >= min_fraction


def shift(frame: np.ndarray, faces: Sequence[Face], dx: float, dy: float) -> tuple[np.ndarray, Faces]:
    """The picture moved by (dx, dy) pixels (head movement, camera shake, walking out of the picture); the
    uncovered border is a flat wall colour, not smeared face pixels."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    wall = tuple(int(v) for v in np.median(frame[:8].reshape(-1, 3), axis=0))
    moved = cv2.warpAffine(frame, matrix, frame.shape[1::-1], borderMode=cv2.BORDER_CONSTANT, borderValue=wall)
    kept = tuple(f for f in (moved_face(face, matrix) for face in faces) if on_frame(f, frame.shape[:2]))
    return moved, kept


def darken(frame: np.ndarray, faces: Sequence[Face], gain: float = 0.12) -> tuple[np.ndarray, Faces]:
    """The light goes off: the camera's exposure has not caught up yet."""
    return cv2.convertScaleAbs(frame, alpha=gain), tuple(faces)


def overexpose(
    frame: np.ndarray, faces: Sequence[Face], gain: float = 2.8, lift: float = 70
) -> tuple[np.ndarray, Faces]:
    """A window's sunlight on the face: most of it clips to white."""
    return cv2.convertScaleAbs(frame, alpha=gain, beta=lift), tuple(faces)


def cover_half(frame: np.ndarray, faces: Sequence[Face], side: str = "lower") -> tuple[np.ndarray, Faces]:
    """A hand (a skin-coloured ellipse, slightly textured) over the lower or left half of each face."""
    out = frame.copy()
    for face in faces:
        pts = face.points
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        if side == "lower":
            centre, axes = (cx, cy + h * 0.3), (w * 0.65, h * 0.35)
        else:
            centre, axes = (cx - w * 0.3, cy), (w * 0.35, h * 0.65)
        cv2.ellipse(out, (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1])), 0, 0, 360,
                    (120, 150, 200), -1, cv2.LINE_AA)  # fmt: skip
    return out, tuple(faces)


def add_second_face(
    frame: np.ndarray, faces: Sequence[Face], donor: np.ndarray, donor_face: Face, scale: float = 0.55
) -> tuple[np.ndarray, Faces]:
    """Paste another person's face (``donor``, with its tracked ``donor_face``) into the picture beside the
    user's, scaled by ``scale``, on the side with more room. Returns both faces as true faces."""
    height, width = frame.shape[:2]
    user = faces[0].points if faces else np.array([[width * 0.5, height * 0.5]])
    room_left = float(user[:, 0].min())
    pts = donor_face.points
    centre = pts.mean(axis=0)
    size = float(np.ptp(pts, axis=0).max()) * scale
    target_x = room_left / 2 if room_left > width - float(user[:, 0].max()) else (float(user[:, 0].max()) + width) / 2
    target = np.array([target_x, height * 0.45])
    matrix = np.float32([[scale, 0, target[0] - scale * centre[0]], [0, scale, target[1] - scale * centre[1]]])
    pasted = cv2.warpAffine(donor, matrix, (width, height))
    second = moved_face(donor_face, matrix, face_id=1)
    mask = np.zeros((height, width), np.uint8)
    hull = cv2.convexHull(np.round(second.points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    mask = cv2.dilate(mask, np.ones((round(size * 0.15) | 1,) * 2, np.uint8))
    out = np.where(mask[..., None] > 0, pasted, frame)
    return out, (*faces, second)


def rescale(frame: np.ndarray, faces: Sequence[Face], size: tuple[int, int]) -> tuple[np.ndarray, Faces]:
    """The camera comes back in another resolution (``size`` = (width, height)): the picture scaled to fit
    the height, centred, on a black background."""
    width, height = size
    scale = height / frame.shape[0]
    offset = (width - frame.shape[1] * scale) / 2
    matrix = np.float32([[scale, 0, offset], [0, scale, 0]])
    out = cv2.warpAffine(frame, matrix, (width, height))
    return out, tuple(moved_face(face, matrix) for face in faces)


def garbage_payloads(shape: tuple[int, int, int], seed: int = 0) -> list[object]:
    """Things a broken driver hands over instead of a BGR uint8 frame of ``shape``."""
    rng = np.random.default_rng(seed)
    height, width, _ = shape
    return [
        rng.integers(0, 256, shape, dtype=np.uint8),  # garbage bytes of the right size
        rng.integers(0, 256, (height, width), dtype=np.uint8),  # grayscale: wrong shape
        rng.random(shape).astype(np.float32),  # float frame: wrong dtype
        np.zeros((0, 0, 3), np.uint8),  # empty
        rng.integers(0, 256, (height // 3, width, 3), dtype=np.uint8),  # truncated rows
        rng.integers(0, 256, (height, width, 4), dtype=np.uint8),  # BGRA
        None,  # no image at all
        np.frombuffer(rng.bytes(height * width * 3), np.uint8),  # a flat byte buffer
    ]
