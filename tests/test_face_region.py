"""The face region on the real clips: follows the mesh contour, margin fully covered, feathered, ROI-bounded."""

import cv2
import numpy as np
import pytest

from filters import Face
from filters.face_region import (
    DEFAULT_FEATHER,
    DEFAULT_MARGIN,
    FACE_OVAL,
    face_mask,
    face_polygon,
    face_region,
    face_size,
    union_roi,
)

from .conftest import CLIPS
from .face_metrics import OVAL, distance_from_contour, moved, sampled, two_faces
from .helpers import tracked_clip


def test_face_oval_is_mediapipes_contour_as_one_loop():
    from mediapipe.tasks.python.vision import FaceLandmarksConnections

    pairs = {(c.start, c.end) for c in FaceLandmarksConnections.FACE_LANDMARKS_FACE_OVAL}
    assert len(FACE_OVAL) == len(set(FACE_OVAL)) == len(pairs) == 36
    assert {(a, b) for a, b in zip(FACE_OVAL, FACE_OVAL[1:] + FACE_OVAL[:1])} == pairs
    assert set(OVAL) == set(FACE_OVAL)


def region_as_frame_mask(shape_hw, region):
    full = np.zeros(shape_hw[:2], np.float32)
    full[region.slices] = region.mask
    return full


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_mask_covers_contour_and_margin_and_fades_out_over_the_feather(clip):
    for frame, faces in zip(*sampled(clip, 20)):
        face = faces[0]
        size = face_size(face)
        region = face_region(frame.shape, face)
        x0, y0, x1, y1 = region.roi
        assert 0 <= x0 < x1 <= frame.shape[1] and 0 <= y0 < y1 <= frame.shape[0]
        assert region.mask.shape == (y1 - y0, x1 - x0) and region.mask.dtype == np.float32
        mask = region_as_frame_mask(frame.shape, region)
        distance = distance_from_contour(frame.shape, face)
        # The contour and the margin around it are covered fully (0.95 x margin - 1 px: the polygon's straight
        # edges between the 36 offset vertices cut slightly inside a true offset curve).
        assert (mask[distance <= 0.95 * DEFAULT_MARGIN * size - 1] == 1.0).all()
        # Beyond margin + feather nothing is touched (2 px: polygon rasterisation).
        assert (mask[distance > (DEFAULT_MARGIN + DEFAULT_FEATHER) * size + 2] == 0.0).all()
        # The feather is a real ramp: intermediate values, falling with distance.
        band = (distance > DEFAULT_MARGIN * size + 1) & (distance < (DEFAULT_MARGIN + DEFAULT_FEATHER) * size)
        assert ((mask[band] > 0.05) & (mask[band] < 0.95)).mean() > 0.5
        edges = np.linspace(DEFAULT_MARGIN, DEFAULT_MARGIN + DEFAULT_FEATHER, 5) * size
        means = [mask[(distance >= a) & (distance < b)].mean() for a, b in zip(edges[:-1], edges[1:])]
        assert (np.diff(means) < 0).all(), means


def test_default_margin_reaches_past_forehead_chin_and_cheeks():
    # The mesh's contour stops at the upper forehead and at the cheeks' edge; 10% of the face size beyond the
    # top (10), chin (152) and cheek (234, 454) landmarks must still be fully covered.
    frames, faces = tracked_clip(CLIPS[0])
    for index in (0, 40, len(frames) - 1):
        face = faces[index][0]
        region = face_region(frames[index].shape, face)
        mask = region_as_frame_mask(frames[index].shape, region)
        centre = face.points[list(FACE_OVAL)].mean(axis=0)
        for landmark in (10, 152, 234, 454):
            point = face.points[landmark]
            outward = (point - centre) / np.linalg.norm(point - centre)
            x, y = np.round(point + outward * 0.1 * region.size).astype(int)
            assert mask[y, x] == 1.0, (index, landmark)


def test_polygon_lies_margin_outside_the_contour():
    frames, faces = tracked_clip(CLIPS[2])
    face = faces[50][0]
    contour = face.points[list(FACE_OVAL)].astype(np.float32)
    polygon = face_polygon(face, 0.2)
    assert 20 <= len(polygon) <= 36 and polygon.shape[1] == 2 and polygon.dtype == np.int32
    distances = [-cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in polygon]
    assert np.allclose(distances, 0.2 * face_size(face), atol=0.1 * 0.2 * face_size(face))
    # At margin 0 the polygon is the contour itself (its hull): every vertex is a contour landmark.
    tight = face_polygon(face, 0.0)
    assert {tuple(p) for p in tight} <= {tuple(p) for p in np.round(contour).astype(np.int32)}


def test_a_folded_contour_is_still_covered_whole():
    # A head turned far aside can fold the FACE_OVAL loop over itself; swapping two stretches of the loop makes
    # such a self-crossing polygon from a real face. Every contour landmark must still be inside the mask.
    frames, faces = tracked_clip(CLIPS[0])
    frame, face = frames[40], faces[40][0]
    folded_order = list(FACE_OVAL[:5]) + list(FACE_OVAL[18:23]) + list(FACE_OVAL[5:18]) + list(FACE_OVAL[23:])
    landmarks = face.landmarks.copy()
    landmarks[list(FACE_OVAL)] = face.landmarks[folded_order]
    folded = Face(landmarks, face.blendshapes, face.pose, face.face_id)
    mask = region_as_frame_mask(frame.shape, face_region(frame.shape, folded))
    hull = cv2.convexHull(face.points[list(FACE_OVAL)].astype(np.float32)).astype(np.int32)
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [hull], 1)
    assert (mask[inside > 0] == 1.0).all()


def test_hard_edge_without_feather_and_tight_without_margin():
    frames, faces = tracked_clip(CLIPS[1])
    frame, face = frames[100], faces[100][0]
    hard = face_region(frame.shape, face, margin=0.1, feather=0.0)
    assert set(np.unique(hard.mask)) == {0.0, 1.0}
    tight = region_as_frame_mask(frame.shape, face_region(frame.shape, face, margin=0.0, feather=0.0))
    distance = distance_from_contour(frame.shape, face)
    assert (tight[distance == 0] == 1.0).mean() > 0.99 and (tight[distance > 2] == 0).all()


def test_face_partly_or_wholly_outside_the_frame():
    frames, faces = tracked_clip(CLIPS[0])
    frame, face = frames[40], faces[40][0]
    half_out = moved(face, -float(face.points[list(FACE_OVAL), 0].mean()))
    region = face_region(frame.shape, half_out)
    assert region.roi[0] == 0 and region.mask.shape == (region.roi[3] - region.roi[1], region.roi[2])
    distance = distance_from_contour(frame.shape, half_out)
    mask = region_as_frame_mask(frame.shape, region)
    assert (distance == 0).sum() > 5000 and (mask[distance == 0] == 1.0).all()
    gone = moved(face, -2.0 * frame.shape[1])
    assert face_region(frame.shape, gone) is None
    full, roi = face_mask(frame.shape, [gone])
    assert roi == (0, 0, 0, 0) and not full.any()


def test_broken_landmarks_raise_instead_of_leaving_the_face_uncovered():
    frames, faces = tracked_clip(CLIPS[0])
    landmarks = faces[0][0].landmarks.copy()
    landmarks[152, 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        face_region(frames[0].shape, Face(landmarks))


def test_face_mask_unites_two_faces_in_one_frame_sized_mask():
    frame, faces = two_faces()
    full, roi = face_mask(frame.shape, faces)
    assert full.shape == frame.shape[:2] and full.dtype == np.float32
    regions = [face_region(frame.shape, f) for f in faces]
    assert roi == union_roi([r.roi for r in regions])
    x0, y0, x1, y1 = roi
    outside_roi = full.copy()
    outside_roi[y0:y1, x0:x1] = 0
    assert not outside_roi.any()
    for face in faces:
        assert (full[distance_from_contour(frame.shape, face) == 0] == 1.0).all()


def test_roi_stays_small_on_a_720p_frame():
    # The whole point of the ROI: a face in a 1280x720 frame costs the face's area, not the frame's.
    frames, faces = tracked_clip(CLIPS[0])
    canvas = np.zeros((720, 1280, 3), np.uint8)
    canvas[100:612, 600:1112] = frames[40]
    region = face_region(canvas.shape, moved(faces[40][0], 600, 100))
    x0, y0, x1, y1 = region.roi
    assert (x1 - x0) * (y1 - y0) < 0.3 * 1280 * 720


def test_bad_options_raise_one_line_errors():
    from filters.blur import BlurFilter

    for bad in ({"margin": -0.01}, {"margin": 1.5}, {"feather": -1}):
        with pytest.raises(ValueError, match="fraction of the face size"):
            BlurFilter(**bad)
