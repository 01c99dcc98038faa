"""Turn ``--reference PATH`` into a :class:`NeutralReference`: a saved reference (.npz) as it is, or an image of
the person's neutral face, whose face is found by a fresh IMAGE-mode Face Landmarker."""

from __future__ import annotations

from pathlib import Path

import cv2

from app.tracking import IMAGE, FaceTracker
from filters.neutralise import NeutralReference, reference_from_image


def load_reference(path: str | Path, model_path: str | Path | None = None) -> NeutralReference:
    """Raises ValueError with a one-line reason (unreadable file, no face, several faces)."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        return NeutralReference.load(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path} is neither a saved neutral reference (.npz) nor an image OpenCV can read")
    if model_path is None:
        from app.model_store import ModelError, resolve_model

        try:
            model_path = resolve_model()
        except ModelError as exc:
            raise ValueError(str(exc)) from None
    with FaceTracker(model_path, mode=IMAGE, max_faces=2, smoothing=None) as tracker:
        faces = tracker.track(image)
    if len(faces) != 1:
        found = "no face" if not faces else "more than one face"
        raise ValueError(f"{path}: {found} found; use a photo of just your relaxed face, looking at the camera")
    return reference_from_image(image, faces[0])
