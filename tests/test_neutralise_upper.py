"""The neutraliser's brow-band texture step on a real tracked face: the reference's forehead replaces detail the
warp cannot move, eyes (and closed lids) stay the person's own, nothing outside the band changes, and the saved
reference carries the band (version 1 files still load)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from filters.base import BLENDSHAPE_INDEX
from filters.neutralise import NeutraliseFilter, NeutralReference, reference_from_image
from filters.neutralise.geometry import blink_closure
from filters.neutralise.regions import EYELIDS
from filters.neutralise.upper import (
    HOLE_GROWTH,
    LID_FOLLOW,
    UPPER_CROP_WIDTH,
    UPPER_SCORES,
    _along_profile,
    _share_along,
    band_triangles,
    blend_upper,
    eye_excess,
    eye_fills,
    eye_hole,
    gaze_difference,
    glance_along,
    upper_excess,
)

from .conftest import MEDIA
from .helpers import tracked_clip

SMILE = MEDIA / "liveportrait_d0.mp4"


@pytest.fixture(scope="module")
def calm_face():
    frames, faces = tracked_clip(SMILE)
    return frames[0], faces[0][0]


def _forehead_box(face) -> tuple[int, int, int, int]:
    """Between the brows' tops and a little above, inside the face: skin the band covers, no eye, no brow."""
    pts = face.points
    brow_top = int(pts[[105, 66, 107, 336, 296, 334], 1].min())
    eye_distance = float(np.linalg.norm(pts[33] - pts[263]))
    x0, x1 = int(pts[105, 0]), int(pts[334, 0])
    return x0, brow_top - int(0.25 * eye_distance), x1, brow_top - int(0.05 * eye_distance)


def _with_wrinkles(frame, face):
    """The frame with dark horizontal lines drawn across the forehead: texture a raised brow adds."""
    x0, y0, x1, y1 = _forehead_box(face)
    wrinkled = frame.copy()
    for y in range(y0, y1, 5):
        cv2.line(wrinkled, (x0, y), (x1, y), (40, 50, 70), 1)
    return wrinkled


def _blend(image, face, reference, alpha, blendshapes=None, fill=0.0):
    out = image.copy()
    scores = face.blendshapes if blendshapes is None else blendshapes
    holes = tuple(eye_hole(closure, fill) for closure in blink_closure(scores))
    blend_upper(out, face.points, reference.upper_image, reference.upper_points, holes, alpha, step=4)
    return out


def test_the_reference_band_removes_forehead_detail_the_warp_cannot(calm_face):
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    assert reference.upper_image is not None and reference.upper_image.shape[1] <= UPPER_CROP_WIDTH
    wrinkled = _with_wrinkles(frame, face)
    out = _blend(wrinkled, face, reference, 1.0)
    x0, y0, x1, y1 = _forehead_box(face)

    def error(image):
        return float(np.abs(image[y0:y1, x0:x1].astype(np.float32) - frame[y0:y1, x0:x1]).mean())

    assert error(wrinkled) > 8.0  # the drawn wrinkles are really there
    assert error(out) < 0.3 * error(wrinkled)  # and the reference's smooth forehead replaced them
    half = _blend(wrinkled, face, reference, 0.5)
    assert error(out) < error(half) < error(wrinkled)  # in proportion to alpha


def test_alpha_zero_and_everything_outside_the_band_stay_bit_exact(calm_face):
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    wrinkled = _with_wrinkles(frame, face)
    assert np.array_equal(_blend(wrinkled, face, reference, 0.0), wrinkled)
    out = _blend(wrinkled, face, reference, 1.0)
    changed = np.argwhere((out != wrinkled).any(axis=2))
    assert len(changed) > 0
    pts = face.points
    # Nothing below the nose's bridge-to-tip midpoint changes (mouth, chin, background below), nor the irises.
    assert changed[:, 0].max() < pts[4, 1]
    for iris in (468, 473):
        x, y = np.round(pts[iris]).astype(int)
        assert np.array_equal(out[y - 2 : y + 3, x - 2 : x + 3], wrinkled[y - 2 : y + 3, x - 2 : x + 3])


def test_a_closed_eye_keeps_its_own_lid(calm_face):
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    # A mark on the right upper lid, just above its contour: lid skin a blink shows.
    lid = face.points[EYELIDS[:7]]
    marked = frame.copy()
    for x, y in np.round(lid - (0, 4)).astype(int):
        cv2.circle(marked, (int(x), int(y)), 2, (0, 255, 0), -1)
    open_scores = face.blendshapes.copy()
    closed_scores = face.blendshapes.copy()
    closed_scores[BLENDSHAPE_INDEX["eyeBlinkRight"]] = 1.0
    closed_scores[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 1.0
    x0, y0 = np.floor(lid.min(axis=0) - 8).astype(int)
    x1, y1 = np.ceil(lid.max(axis=0) + 2).astype(int)

    def lid_change(out):
        return float(np.abs(out[y0:y1, x0:x1].astype(np.float32) - marked[y0:y1, x0:x1]).mean())

    assert lid_change(_blend(marked, face, reference, 1.0, closed_scores)) < 0.25 * lid_change(
        _blend(marked, face, reference, 1.0, open_scores)
    )


def test_a_shut_eye_keeps_its_whole_lid_not_just_the_slit(calm_face):
    """With the lids really shut (the upper lid's landmarks on the lower lid's), the hole must still cover the
    lid skin above the slit: a scaled slit would let the reference's open-eye lashes paint a dark smear there."""
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    shut = face.points.copy()
    upper, lower = EYELIDS[:7], EYELIDS[7:14][[0, 1, 2, 3, 4, 5, 6]]
    shut[upper] = face.points[lower]
    width = float(np.linalg.norm(face.points[33] - face.points[133]))
    marked = frame.copy()
    for x, y in np.round(face.points[lower] - (0, 0.25 * width)).astype(int):
        cv2.circle(marked, (int(x), int(y)), 2, (0, 255, 0), -1)
    closed_scores = face.blendshapes.copy()
    closed_scores[BLENDSHAPE_INDEX["eyeBlinkRight"]] = closed_scores[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 1.0
    lid = face.points[lower]
    x0, y0 = np.floor(lid.min(axis=0) - (2, 0.35 * width)).astype(int)
    x1, y1 = np.ceil(lid.max(axis=0) + 2).astype(int)

    def lid_change(scores):
        out = marked.copy()
        holes = tuple(eye_hole(closure, 0.0) for closure in blink_closure(scores))
        blend_upper(out, shut, reference.upper_image, reference.upper_points, holes, 1.0, step=4)
        return float(np.abs(out[y0:y1, x0:x1].astype(np.float32) - marked[y0:y1, x0:x1]).mean())

    assert lid_change(closed_scores) < 0.2 * lid_change(face.blendshapes)


def test_the_band_answers_to_brow_and_eye_scores_above_the_reference(calm_face):
    _, face = calm_face
    base = face.blendshapes[UPPER_SCORES].copy()
    assert upper_excess(face.blendshapes, base) == 0.0
    raised = face.blendshapes.copy()
    raised[BLENDSHAPE_INDEX["browInnerUp"]] = base[list(UPPER_SCORES).index(BLENDSHAPE_INDEX["browInnerUp"])] + 0.4
    assert upper_excess(raised, base) == pytest.approx(0.4, abs=1e-5)
    blink = face.blendshapes.copy()
    blink[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 1.0  # a blink is not expression
    assert upper_excess(blink, base) == 0.0


def test_the_auto_reference_carries_a_calm_band_and_files_keep_it(calm_face, tmp_path):
    frames, faces = tracked_clip(SMILE)
    filt = NeutraliseFilter()
    for i in range(0, 60, 2):
        filt.apply(frames[i].copy(), faces[i])
    reference = filt.reference(0)
    assert reference.upper_image is not None and reference.upper_scores.shape == (len(UPPER_SCORES),)
    path = tmp_path / "neutral.npz"
    reference.save(path)
    loaded = NeutralReference.load(path)
    assert np.array_equal(loaded.upper_image, reference.upper_image)
    assert np.array_equal(loaded.upper_points, reference.upper_points)
    assert path.stat().st_size < 120_000  # landmarks and two small crops, never a frame
    # A version-1 file (landmarks and mouth only) still loads, without a band.
    old = tmp_path / "old.npz"
    np.savez_compressed(old, version=np.array(1), landmarks=reference.landmarks)
    assert NeutralReference.load(old).upper_image is None


def _iris_marked(frame, face):
    marked = frame.copy()
    for iris in (468, 473):
        x, y = np.round(face.points[iris]).astype(int)
        cv2.circle(marked, (int(x), int(y)), 3, (0, 255, 0), -1)
    return marked


def _iris_change(out, marked, face):
    total = 0.0
    for iris in (468, 473):
        x, y = np.round(face.points[iris]).astype(int)
        patch = (slice(y - 2, y + 3), slice(x - 2, x + 3))
        total += float(np.abs(out[patch].astype(np.float32) - marked[patch]).mean())
    return total / 2


def test_a_widened_or_squinting_eye_is_covered_by_the_reference_eye(calm_face):
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    marked = _iris_marked(frame, face)  # something only the current eye has
    assert _iris_change(_blend(marked, face, reference, 1.0, fill=0.0), marked, face) == 0.0  # calm: own eye
    covered = _iris_change(_blend(marked, face, reference, 1.0, fill=1.0), marked, face)
    assert covered > 40.0  # the green mark is gone under the reference's own eye


def test_the_band_is_lit_by_the_skin_around_the_eyes_not_by_the_eyes(calm_face):
    # A squinting eye is covered whole (no hole), but its lashes, iris and lowered lids are not the light: painted
    # black here, they must not darken the pasted forehead (the reference's own light leaves its eyes out too).
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    dark_eyes = frame.copy()
    for lids in (EYELIDS[:14], EYELIDS[14:]):
        cv2.fillPoly(dark_eyes, [np.round(face.points[lids]).astype(np.int32)], (0, 0, 0))
    x0, y0, x1, y1 = _forehead_box(face)

    def forehead_light(image):
        return float(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2LAB)[..., 0].mean())

    own_eyes = _blend(frame, face, reference, 1.0, fill=1.0)
    fresh = reference_from_image(frame, face)  # its own crop: not relit for the light measured above
    painted = _blend(dark_eyes, face, fresh, 1.0, fill=1.0)
    assert forehead_light(painted) == pytest.approx(forehead_light(own_eyes), abs=0.5)  # measured in them: -2.9


def test_the_hair_at_the_reference_bands_edge_never_reaches_the_output(calm_face):
    # The tracker's face contour sits a pixel or two outside the skin: the reference's outermost triangles carry
    # hair or background, which a turned face's squeezed far side drew as a dark dash on the cheek (d3 #264).
    frame, face = calm_face
    reference = reference_from_image(frame, face)
    points = reference.upper_points
    band = np.zeros(reference.upper_image.shape[:2], np.uint8)
    cv2.fillPoly(band, list(np.round(points[band_triangles(points), :2]).astype(np.int32)), 1)
    edge = cv2.erode(band, np.ones((5, 5), np.uint8)) == 0  # two pixels inside the outline, and all outside
    hair = reference.upper_image.copy()
    hair[edge] = 0
    assert (hair != reference.upper_image).any()
    haired = dataclasses.replace(reference, upper_image=hair)
    own = _blend(frame, face, reference, 1.0).astype(np.int16)
    with_hair = _blend(frame, face, haired, 1.0).astype(np.int16)
    assert (own - with_hair).max() <= 2  # the old band: 43 levels darker on 28 pixels along its edge


def test_eye_holes_blinks_keep_the_lid_winks_and_wide_eyes_do_not():
    assert eye_hole(0.0, 0.0) == pytest.approx((HOLE_GROWTH[0], 0.0))
    assert eye_hole(1.0, 0.0) == pytest.approx((1.9, 1.0))  # closed: the whole lid is a hole
    assert eye_hole(1.0, 1.0) == pytest.approx((1.9, 1.0))  # a blink stays a blink, however the eye scored
    assert eye_hole(0.0, 1.0).scale == 0.0
    assert eye_hole(0.0, 0.3).scale > eye_hole(0.0, 0.6).scale > 0.0
    scores = np.zeros(len(BLENDSHAPE_INDEX), np.float32)
    scores[BLENDSHAPE_INDEX["eyeBlinkRight"]] = scores[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 0.9
    assert blink_closure(scores) == pytest.approx((0.9, 0.9))
    scores[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 0.05  # a wink of the right eye: expression
    assert blink_closure(scores) == pytest.approx((0.05, 0.05))
    assert blink_closure(scores, winks_are_expression=False) == pytest.approx((0.9, 0.05))


def test_eye_excess_is_per_eye_and_above_the_reference():
    scores = np.zeros(len(BLENDSHAPE_INDEX), np.float32)
    base = scores[UPPER_SCORES].copy()
    scores[BLENDSHAPE_INDEX["eyeWideLeft"]] = 0.5
    scores[BLENDSHAPE_INDEX["eyeSquintRight"]] = 0.3
    assert eye_excess(scores, base) == pytest.approx((0.3, 0.5))
    base[list(UPPER_SCORES).index(BLENDSHAPE_INDEX["eyeWideLeft"])] = 0.6  # this person's eyes rest wide
    assert eye_excess(scores, base) == pytest.approx((0.3, 0.0))


def test_the_band_frame_has_eyes_looking_ahead_and_not_wide(calm_face):
    from filters.neutralise.reference import CalmBand

    frame, face = calm_face
    glancing = face.blendshapes.copy()
    for name in ("eyeLookOutLeft", "eyeLookInRight"):
        glancing[BLENDSHAPE_INDEX[name]] += 0.6
    wide = face.blendshapes.copy()
    for name in ("eyeWideLeft", "eyeWideRight"):
        wide[BLENDSHAPE_INDEX[name]] += 0.15
    band = CalmBand()
    assert band.offer(frame, dataclasses.replace(face, blendshapes=glancing), 0.0)
    assert band.offer(frame, dataclasses.replace(face, blendshapes=wide), 0.0)  # less bad than glancing aside
    assert band.offer(frame, face, 0.0)  # eyes ahead and relaxed win
    assert not band.offer(frame, dataclasses.replace(face, blendshapes=glancing), 0.0)
    assert band.best[3] is not None and np.allclose(band.best[3], face.blendshapes[UPPER_SCORES])


def _with_irises_moved(points, shift):
    """Landmarks with both irises (centre and ring) moved by ``shift`` eye widths along each eye's corner line."""
    moved = points.copy()
    for corners, iris in (((33, 133), range(468, 473)), ((263, 362), range(473, 478))):
        axis = points[corners[1]] - points[corners[0]]
        moved[list(iris)] += shift * axis
    return moved


def test_gaze_difference_is_zero_looking_the_same_way_and_grows_with_the_glance(calm_face):
    _, face = calm_face
    assert gaze_difference(face.points, face.points) == pytest.approx((0.0, 0.0), abs=1e-9)
    glance = _with_irises_moved(face.points, 0.15)
    assert gaze_difference(glance, face.points) == pytest.approx((0.15, 0.15), abs=1e-3)
    # Pose-free: the same glance, with the whole face scaled, turned in the image and moved, reads the same.
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    posed = 1.3 * glance @ rotation.T + (40.0, -25.0)
    assert gaze_difference(posed, face.points) == pytest.approx((0.15, 0.15), abs=1e-3)
    assert gaze_difference(face.points, None) == (1.0, 1.0)  # no band frame: nothing to match


def test_the_reference_eye_covers_both_calm_eyes_only_while_they_look_its_way(calm_face):
    _, face = calm_face
    base = face.blendshapes[UPPER_SCORES].copy()
    assert eye_fills(face.blendshapes, face.points, base, face.points) == pytest.approx((1.0, 1.0))
    glance = _with_irises_moved(face.points, 0.2)
    assert eye_fills(face.blendshapes, glance, base, face.points) == pytest.approx((0.0, 0.0))  # a glance is kept
    squint = face.blendshapes.copy()
    squint[BLENDSHAPE_INDEX["eyeSquintLeft"]] = base[list(UPPER_SCORES).index(BLENDSHAPE_INDEX["eyeSquintLeft"])] + 0.3
    # A squint is covered wherever it looks, and the other eye with it: pasting the reference's eye into one eye
    # only would leave the two looking different ways.
    assert eye_fills(squint, glance, base, face.points) == pytest.approx((1.0, 1.0))
    one_glancing = face.points.copy()
    one_glancing[468:473] = glance[468:473]  # the subject's right iris only: tracker noise, or a lazy eye
    assert eye_fills(face.blendshapes, one_glancing, base, face.points) == pytest.approx((1.0, 1.0))


def _found_along(image, calm_frame, face, iris, corners):
    """Where the calm frame's iris is found in ``image``, in eye widths along the image x axis from where it sits
    in the calm frame: the calm iris matched as a template over a horizontal strip through the eye."""
    width = float(np.linalg.norm(face.points[corners[1]] - face.points[corners[0]]))
    x, y = np.round(face.points[iris]).astype(int)
    half_w, half_h, reach = round(0.12 * width), round(0.08 * width), round(0.35 * width)
    template = calm_frame[y - half_h : y + half_h + 1, x - half_w : x + half_w + 1]
    strip = image[y - half_h : y + half_h + 1, x - half_w - reach : x + half_w + reach + 1]
    scores = cv2.matchTemplate(strip, template, cv2.TM_SQDIFF_NORMED)[0]
    return (float(np.argmin(scores)) - reach) / width


def test_the_pasted_reference_eye_looks_where_the_person_looks(calm_face):
    """A squinting eye is covered by the reference's own eye; its iris must then sit where the person's own iris
    is along the eye (the reference frame looked ahead, the person glances aside), with the eye's corners and lids
    where they were. Crossed eyes are a face pulled, not a look: they are not followed."""
    frame, face = calm_face
    reference = reference_from_image(frame, face)  # looks ahead, like the calm frame
    # Both irises 0.15 eye widths towards the image's right: the eyes' corner lines run opposite ways.
    glancing = _with_irises_moved(face.points, 0.15)
    glancing[473:478] = _with_irises_moved(face.points, -0.15)[473:478]
    crossed = _with_irises_moved(face.points, 0.15)  # both towards the nose

    def paste(looking):
        out = frame.copy()
        holes = (eye_hole(0.0, 1.0), eye_hole(0.0, 1.0))  # both eyes covered by the reference's
        blend_upper(out, glancing, reference.upper_image, reference.upper_points, holes, 1.0, 4, looking=looking)
        return out

    followed = paste(glance_along(glancing))
    stared = paste(glance_along(face.points))  # the reference's own gaze: the old, staring paste
    uncrossed = paste(glance_along(crossed))
    for iris, corners in ((468, (33, 133)), (473, (263, 362))):
        assert _found_along(followed, frame, face, iris, corners) == pytest.approx(0.15, abs=0.04)
        assert abs(_found_along(stared, frame, face, iris, corners)) < 0.04
        assert abs(_found_along(uncrossed, frame, face, iris, corners)) < 0.04
    # Only the eyes change (the openings and their lids, LID_FOLLOW eye widths around): the rest is the same.
    outside = np.ones(frame.shape[:2], np.uint8)
    for ring in ([33, *EYELIDS[:7], 133, *EYELIDS[7:14][::-1]], [263, *EYELIDS[14:21], 362, *EYELIDS[21:][::-1]]):
        cv2.fillPoly(outside, [np.round(glancing[ring]).astype(np.int32)], 0)
    width = float(np.linalg.norm(face.points[33] - face.points[133]))
    # (The band is rendered at the reference crop's resolution and resized: a changed pixel spreads a few.)
    reach = 2 * round(LID_FOLLOW * width + 4) + 1
    outside = cv2.erode(outside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))).astype(bool)
    assert np.array_equal(followed[outside], stared[outside])
    changed = np.abs(followed.astype(np.int16) - stared).max(axis=2) > 8
    assert changed.sum() > 0 and not changed[outside].any()


@pytest.mark.parametrize(("iris_at", "iris_from"), [(0.6, 0.5), (0.3, 0.5), (0.75, 0.25), (0.5, 0.74), (0.26, 0.26)])
def test_the_share_of_the_iris_move_is_the_knotted_profile(iris_at, iris_from):
    """The closed form the paste uses is the piecewise-linear profile its knots describe, beyond the corners too."""
    along = np.linspace(-0.3, 1.3, 401, dtype=np.float32).reshape(1, -1)
    expected = np.interp(along, *_along_profile(iris_at, iris_from))
    np.testing.assert_allclose(_share_along(along, iris_at, iris_from), expected, atol=1e-5)
