"""Bared teeth before the auto reference has a closed mouth to paste: the lips' colour covers them."""

from __future__ import annotations

import cv2
import numpy as np

from app.lab.metrics import measure_faces
from filters import create_filter
from filters.neutralise.fallback import close_mouth_gap
from filters.neutralise.regions import LIPS, LOWER_LIP_INNER, MOUTH_CORNERS, UPPER_LIP_INNER

from .conftest import MEDIA, MODEL
from .helpers import tracked_clip

FROWN = MEDIA / "liveportrait_d3.mp4"  # opens with a grimace, teeth bared, lips never together in its first second
GRIMACE = [9, 12, 15, 18, 21]
# The gap between the lips, as the test sees it (written out here, not taken from the filter).
GAP = np.r_[MOUTH_CORNERS[2], UPPER_LIP_INNER, MOUTH_CORNERS[3], LOWER_LIP_INNER[::-1]]


def _masks(shape, points):
    gap = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(gap, [np.round(points[GAP, :2]).astype(np.int32)], 1)
    gap = cv2.dilate(gap, np.ones((3, 3), np.uint8))
    mouth = np.zeros_like(gap)
    cv2.fillConvexPoly(mouth, cv2.convexHull(np.round(points[LIPS, :2]).astype(np.int32)), 1)
    return gap > 0, (mouth > 0) & (gap == 0)


def teeth_contrast(image: np.ndarray, points: np.ndarray) -> float:
    """Mean Lab distance of the pixels between the inner lips from the lips' own median colour: teeth or a dark
    open mouth stand out, closed lips do not."""
    gap, lips = _masks(image.shape, points)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    return float(np.linalg.norm(lab[gap] - np.median(lab[lips], axis=0), axis=1).mean())


def test_the_gap_between_the_lips_takes_the_lips_colour_and_nothing_else_changes():
    frames, faces = tracked_clip(FROWN)
    frame, points = frames[15], faces[15][0].points
    before = teeth_contrast(frame, points)
    assert before > 20  # the grimace's teeth
    out = frame.copy()
    close_mouth_gap(out, points, 1.0)
    assert teeth_contrast(out, points) < 0.4 * before
    lips = points[LIPS]
    x0, y0 = np.floor(lips.min(axis=0)).astype(int) - 20
    x1, y1 = np.ceil(lips.max(axis=0)).astype(int) + 20
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frame[outside])
    untouched = frame.copy()
    close_mouth_gap(untouched, points, 0.0)
    assert np.array_equal(untouched, frame)
    half = frame.copy()
    close_mouth_gap(half, points, 0.5)
    assert teeth_contrast(out, points) < teeth_contrast(half, points) < before


def test_a_grimace_before_any_closed_mouth_shows_no_teeth_and_the_user_is_told_why():
    """d3's first second is a grimace with the teeth bared: no closed mouth to paste yet. The fresh landmarker
    finds the output's inner lips; between them the previous code still showed the teeth (contrast about 1.05
    times the input's), now the lips' colour (about 0.56)."""
    frames, faces = tracked_clip(FROWN)
    filt = create_filter("neutralise", strength=1.0)
    outputs, notices, learnt = [], [], []
    for frame, found in zip(frames[:40], faces[:40]):
        outputs.append(filt.apply(frame.copy(), found))
        notices.append(filt.notice)
        learnt.append(filt.reference_image() is not None)
    assert not any(learnt[i] for i in GRIMACE)
    assert all("close your lips" in notices[i] for i in GRIMACE)
    first = learnt.index(True)  # the lips came together once: the reference's own mouth is pasted from then on
    assert all("close your lips" not in notice for notice in notices[first:])
    _, seen_in = measure_faces([frames[i] for i in GRIMACE], MODEL)
    _, seen_out = measure_faces([outputs[i] for i in GRIMACE], MODEL)
    assert all(seen_in) and all(seen_out)
    contrast_in = np.mean([teeth_contrast(frames[i], f.points) for i, f in zip(GRIMACE, seen_in)])
    contrast_out = np.mean([teeth_contrast(outputs[i], f.points) for i, f in zip(GRIMACE, seen_out)])
    assert contrast_out < 0.7 * contrast_in
