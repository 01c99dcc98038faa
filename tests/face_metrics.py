"""Measuring what an obscuring filter leaves of a face, independently of the filter code.

The face contour comes from mediapipe's own FACE_OVAL connections (not from filters.face_region), and "outside
the margin" is a distance transform from that contour's hull, so the tests do not reuse the geometry they check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import cv2
import numpy as np
from mediapipe.tasks.python.vision import FaceLandmarksConnections

from app.tracking import IMAGE, FaceTracker
from filters import Face, Filter
from filters.face_region import face_size

from .conftest import CLIPS, MODEL
from .helpers import read_frames, tracked_clip

OVAL = [c.start for c in FaceLandmarksConnections.FACE_LANDMARKS_FACE_OVAL]
# Features finer than ~face/15 (eyes, lids, brows, lips, nostrils, wrinkles) are what identity and expression
# live in; a high-pass at sigma = face/40 keeps that band and drops skin shading.
DETAIL_SIGMA = 1 / 40
# Faces are measured at ~160 px (the detail band, face/40, is then 4 px: still well above the pixel grid).
MEASURING_FACE_PX = 160
TWO_FACE_CLIPS = ("liveportrait_d0.mp4", "liveportrait_d10.mp4")  # both 512x512, so they stack side by side


def contour_area(shape_hw: tuple[int, int], face: Face, erode_px: int = 2) -> np.ndarray:
    """Bool (H, W): inside the raw (un-expanded) face contour, a few pixels in from its edge."""
    canvas = np.zeros(shape_hw[:2], np.uint8)
    cv2.fillPoly(canvas, [np.round(face.points[OVAL]).astype(np.int32)], 255)
    if erode_px:
        canvas = cv2.erode(canvas, np.ones((2 * erode_px + 1,) * 2, np.uint8))
    return canvas > 0


def distance_from_contour(shape_hw: tuple[int, int], face: Face) -> np.ndarray:
    """Float32 (H, W): each pixel's distance in pixels to the face contour region (0 inside). The region is the
    contour's convex hull, as the filters define it (a turned head's contour can fold; its hull cannot): on the
    shared clips the hull adds at most ~2.5% of the face size, in the concave stretches of turned faces."""
    outside = np.full(shape_hw[:2], 255, np.uint8)
    hull = cv2.convexHull(face.points[OVAL].astype(np.float32))
    cv2.fillPoly(outside, [np.round(hull).astype(np.int32)], 0)
    return cv2.distanceTransform(outside, cv2.DIST_L2, 5)


def beyond_margin(shape_hw: tuple[int, int], faces: Sequence[Face], margin: float, feather: float) -> np.ndarray:
    """Bool (H, W): pixels farther than margin + feather (x face size) from every face contour, plus 2 px
    for polygon rasterisation: a filter must leave these bit-exactly alone."""
    keep = np.ones(shape_hw[:2], bool)
    for face in faces:
        keep &= distance_from_contour(shape_hw, face) > (margin + feather) * face_size(face) + 2
    return keep


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def retained_detail(output: np.ndarray, original: np.ndarray, where: np.ndarray, size: float) -> float:
    """How much of the original's fine detail is still in the output: the regression coefficient of the output's
    high-pass on the original's, over ``where``. 1 = all of it (identity), 0.5 = at half contrast, 0 = none.
    Unlike a correlation it sees contrast: a half-transparent fill keeps correlation 1 but retains 0.5."""
    # A stack blur's triangular kernel of radius r has sigma ~ r / sqrt(6); it costs the same at any radius.
    kernel = 2 * round(DETAIL_SIGMA * size * 6**0.5) + 1
    out, ref = _gray(output), _gray(original)
    out_hp = (out - cv2.stackBlur(out, (kernel, kernel)))[where]
    ref_hp = (ref - cv2.stackBlur(ref, (kernel, kernel)))[where]
    return float(np.dot(out_hp, ref_hp) / max(float(np.dot(ref_hp, ref_hp)), 1e-6))


def edge_energy(image: np.ndarray, where: np.ndarray) -> float:
    """Variance of the Laplacian over ``where``, after a sigma 1.5 pre-blur: 8-bit rounding and codec noise
    otherwise dominate the Laplacian of an already smooth image."""
    smooth = cv2.GaussianBlur(_gray(image), (0, 0), 1.5)
    return float(cv2.Laplacian(smooth, cv2.CV_32F)[where].var())


def around_faces(
    shape_hw: tuple[int, int], faces: Sequence[Face], reach: float
) -> tuple[tuple[slice, slice], list[Face]]:
    """A crop holding every face contour plus ``reach`` x face size (+ 8 px) around it, and the faces moved into
    the crop's coordinates: the measures' blurs and distance transforms cost per pixel, so they run on this."""
    boxes = []
    for face in faces:
        pad = reach * face_size(face) + 8
        pts = face.points[OVAL]
        boxes.append((*(pts.min(axis=0) - pad), *(pts.max(axis=0) + pad)))
    x0, y0 = (max(int(min(b[i] for b in boxes)), 0) for i in (0, 1))
    x1, y1 = (int(max(b[i] for b in boxes)) + 1 for i in (2, 3))
    return (slice(y0, min(y1, shape_hw[0])), slice(x0, min(x1, shape_hw[1]))), [moved(f, -x0, -y0) for f in faces]


def at_measuring_scale(
    frame: np.ndarray, output: np.ndarray, faces: Sequence[Face]
) -> tuple[np.ndarray, np.ndarray, list[Face]]:
    """Both images and the faces scaled down (area averaging) so the largest face is ~MEASURING_FACE_PX: detail is
    then judged at one face resolution whatever the clip's, and the every-frame checks stay cheap."""
    factor = round(max(face_size(f) for f in faces) / MEASURING_FACE_PX)
    if factor <= 1:
        return frame, output, list(faces)
    scale = 1 / factor  # a whole factor: OpenCV's fast path for area averaging
    size = (frame.shape[1] // factor, frame.shape[0] // factor)
    shrink = [
        cv2.resize(image[: size[1] * factor, : size[0] * factor], size, interpolation=cv2.INTER_AREA)
        for image in (frame, output)
    ]
    faces = [Face(f.landmarks * scale, f.blendshapes, f.pose, f.face_id) for f in faces]
    return shrink[0], shrink[1], faces


def check_every_frame(
    make_filter: Callable[[], Filter],
    frames: Sequence[np.ndarray],
    faces_per_frame: Sequence[Sequence[Face]],
    max_retained: float,
    max_edge_ratio: float | None,
) -> dict[str, float]:
    """Run the filter over every frame and assert the obscuring promise on each: same shape and dtype, the input
    array's pixels outside every face's margin + feather unchanged, and inside every face contour retained detail
    below ``max_retained`` (and, if given, edge energy below ``max_edge_ratio`` of the input's). Returns the
    worst values seen, so a failure message or a tuning run can show the head-room."""
    worst = {"retained": 0.0, "edge_ratio": 0.0}
    for index, (frame, faces) in enumerate(zip(frames, faces_per_frame)):
        assert faces, f"frame {index}: the tracker lost the face (every shared clip has one in every frame)"
        filt = make_filter()
        output = filt.apply(frame.copy(), faces)
        assert output.shape == frame.shape and output.dtype == frame.dtype, f"frame {index}: shape/dtype changed"
        # Everything the measures need lies within margin + feather + 3 sigma of the faces; nothing outside that
        # crop may change at all, which one comparison of the whole frame checks.
        crop, local_faces = around_faces(frame.shape, faces, filt.margin + filt.feather + 3 * DETAIL_SIGMA)
        difference = cv2.absdiff(output, frame)
        difference[crop] = 0
        assert not difference.any(), f"frame {index}: pixels far from every face changed"
        frame, output = frame[crop], output[crop]
        keep = beyond_margin(frame.shape, local_faces, filt.margin, filt.feather)
        difference = cv2.absdiff(output, frame)
        changed = (difference[..., 0] | difference[..., 1] | difference[..., 2]) > 0
        assert not (changed & keep).any(), f"frame {index}: background beyond the margin changed"
        frame, output, local_faces = at_measuring_scale(frame, output, local_faces)
        for face in local_faces:
            inside = contour_area(frame.shape, face)
            retained = retained_detail(output, frame, inside, face_size(face))
            worst["retained"] = max(worst["retained"], retained)
            assert retained < max_retained, f"frame {index}: {retained:.3f} of the face's detail is left"
            if max_edge_ratio is not None:
                ratio = edge_energy(output, inside) / max(edge_energy(frame, inside), 1e-6)
                worst["edge_ratio"] = max(worst["edge_ratio"], ratio)
                assert ratio < max_edge_ratio, f"frame {index}: edge energy {ratio:.3f} of the input's is left"
    return worst


def detail_by_strength(
    make_filter: Callable[[float], Filter],
    frames: Sequence[np.ndarray],
    faces_per_frame: Sequence[Sequence[Face]],
    strengths: Sequence[float],
) -> np.ndarray:
    """(frames, strengths) retained detail inside the face contour (first face)."""
    table = np.zeros((len(frames), len(strengths)))
    for i, (frame, faces) in enumerate(zip(frames, faces_per_frame)):
        inside = contour_area(frame.shape, faces[0])
        for j, strength in enumerate(strengths):
            output = make_filter(strength).apply(frame.copy(), faces)
            table[i, j] = retained_detail(output, frame, inside, face_size(faces[0]))
    return table


@functools.lru_cache(maxsize=1)
def two_faces() -> tuple[np.ndarray, tuple[Face, ...]]:
    """Two real faces in one frame: frame 40 of two 512x512 clips side by side, tracked with max_faces=2."""
    left, right = (read_frames(clip, max_frames=41)[40] for clip in CLIPS if clip.name in TWO_FACE_CLIPS)
    frame = np.hstack([left, right])
    with FaceTracker(MODEL, max_faces=2, mode=IMAGE) as tracker:
        faces = tuple(tracker.track(frame))
    assert len(faces) == 2, "the tracker must find both faces of the side-by-side frame"
    return frame, faces


def shifted_out(frame: np.ndarray, face: Face, cut_px: int) -> tuple[np.ndarray, Face]:
    """The frame with its left ``cut_px`` columns cut off and the tracked face moved with it: a real face
    partly outside the frame (the tracker itself would not report one cut in half reliably)."""
    return np.ascontiguousarray(frame[:, cut_px:]), moved(face, -cut_px)


def moved(face: Face, dx: float, dy: float = 0.0) -> Face:
    landmarks = face.landmarks.copy()
    landmarks[:, 0] += dx
    landmarks[:, 1] += dy
    return Face(landmarks, face.blendshapes, face.pose, face.face_id)


STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def sampled(clip, step: int) -> tuple[Sequence[np.ndarray], Sequence[Sequence[Face]]]:
    """Every ``step``-th frame of a tracked clip and its faces (the tracking itself is cached per session)."""
    frames, faces = tracked_clip(clip)
    return frames[::step], faces[::step]


def check_identity_at_zero(make_filter: Callable[[float], Filter], step: int = 25) -> None:
    """Strength 0 returns every sampled frame of every clip bit-exactly."""
    for clip in CLIPS:
        for frame, faces in zip(*sampled(clip, step)):
            assert np.array_equal(make_filter(0.0).apply(frame.copy(), faces), frame), clip.name


def check_two_faces(filt: Filter, max_retained: float) -> None:
    """Both faces of a two-face frame are covered; the background between and around them is untouched."""
    frame, faces = two_faces()
    output = filt.apply(frame.copy(), faces)
    for face in faces:
        retained = retained_detail(output, frame, contour_area(frame.shape, face), face_size(face))
        assert retained < max_retained, f"face {face.face_id}: {retained:.3f} of its detail is left"
    keep = beyond_margin(frame.shape, faces, filt.margin, filt.feather)
    assert keep.mean() > 0.3  # there IS background to check
    assert np.array_equal(output[keep], frame[keep])


def check_partly_outside(filt: Filter, max_retained: float) -> None:
    """A face cut in half by the frame's edge is covered where visible; a face wholly outside changes nothing."""
    frames, faces = tracked_clip(CLIPS[0])
    frame, face = frames[40], faces[40][0]
    centre_x = int(face.points[OVAL, 0].mean())
    cut_frame, cut_face = shifted_out(frame, face, centre_x)
    output = filt.apply(cut_frame.copy(), [cut_face])
    assert output.shape == cut_frame.shape
    inside = contour_area(cut_frame.shape, cut_face)
    assert inside.sum() > 5000  # the visible half of the face is a real area
    assert retained_detail(output, cut_frame, inside, face_size(cut_face)) < max_retained
    keep = beyond_margin(cut_frame.shape, [cut_face], filt.margin, filt.feather)
    assert np.array_equal(output[keep], cut_frame[keep])
    gone = moved(face, -2 * frame.shape[1])
    assert np.array_equal(filt.apply(frame.copy(), [gone]), frame)
