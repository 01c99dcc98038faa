"""Turn ``--reference PATH`` into a :class:`NeutralReference`: a saved reference (.npz) as it is, or an image of
the person's neutral face, whose face is found by a fresh IMAGE-mode Face Landmarker.

The app saves a calibrated face only when the user asks ("Save for next time"), to one file in the user's own data
folder (:func:`saved_reference_path`); ``--reference saved`` uses that file, and forgetting deletes it."""

from __future__ import annotations

from pathlib import Path

import cv2
import platformdirs

from app.tracking import IMAGE, FaceTracker
from filters.neutralise import NeutralReference, ReferenceFileError, reference_from_image
from filters.neutralise.reference import expression_shown

SAVED = "saved"  # --reference saved: the face the app saved for next time
SAVED_REFERENCE_FILE = "neutral-face.npz"


def saved_reference_path() -> Path:
    """Where the app keeps a neutral face the user chose to save (``platformdirs.user_data_dir("deadpan")``)."""
    return Path(platformdirs.user_data_dir("deadpan", appauthor=False)) / SAVED_REFERENCE_FILE


def load_saved_reference(path: str | Path | None = None) -> NeutralReference | None:
    """The saved neutral face, or None when none was saved; ValueError with a one-line reason when the file is
    there but unreadable."""
    path = Path(path) if path is not None else saved_reference_path()
    if not path.is_file():
        return None
    return NeutralReference.load(path)


def forget_saved_reference(path: str | Path | None = None) -> bool:
    """Delete the saved neutral face; True if there was one."""
    path = Path(path) if path is not None else saved_reference_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def load_reference(path: str | Path, model_path: str | Path | None = None) -> NeutralReference:
    """``path``: a saved reference (.npz), a photo, or ``"saved"`` (the face the app saved for next time).
    Raises ValueError with a one-line reason (unreadable file, no face, several faces, nothing saved)."""
    if str(path) == SAVED:
        try:
            saved = load_saved_reference()
        except ReferenceFileError as exc:
            raise ValueError(
                f"{exc}; calibrate again in the app and press “Save for next time” (Clear deletes the damaged "
                "file), or use --reference auto"
            ) from None
        if saved is None:
            raise ValueError(
                f"no saved neutral face at {saved_reference_path()}: calibrate in the app and press "
                "“Save for next time”, or give a photo of your relaxed face"
            )
        return saved
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
    shown = expression_shown(faces[0].blendshapes)
    if shown:  # the neutraliser would pull every frame towards it
        raise ValueError(
            f"{path}: the face is not relaxed ({shown}); use a photo of your relaxed face, mouth closed, eyes "
            "open, or leave --reference out (the neutral face is then learned as you go)"
        )
    return reference_from_image(image, faces[0])
