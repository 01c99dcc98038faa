"""The lab's measures on real frames: the blendshape leakage ratio and the independent expression judge."""

from __future__ import annotations

import numpy as np
import pytest

from app.lab.judge import (
    ExpressionJudge,
    JudgeError,
    confusion_table,
    format_confusion,
    label_distribution,
    top_labels,
)
from app.lab.metrics import (
    EXPRESSION_BLENDSHAPES,
    FAMILIES,
    affect_residual,
    face_found,
    family_leakage,
    gaze_kept,
    glance,
    held_eye_closures,
    jitter_ratio,
    landmark_jitter,
    leakage_ratio,
    measure_blendshapes,
    measure_faces,
    neutral_blendshapes,
    speech_kept,
)
from filters.base import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Face

from .conftest import JUDGE, MEDIA, MODEL
from .helpers import read_frames

SMILE_CLIP = MEDIA / "liveportrait_d0.mp4"  # neutral, then a broad smile, then neutral again


@pytest.fixture(scope="module")
def smile_clip():
    frames = read_frames(SMILE_CLIP)
    bs, faces = measure_faces(frames, MODEL)
    return frames, bs, faces


def test_expression_set_leaves_out_gaze_blinks_and_neutral():
    assert "_neutral" not in EXPRESSION_BLENDSHAPES
    assert not [n for n in EXPRESSION_BLENDSHAPES if n.startswith(("eyeBlink", "eyeLook"))]
    for name in ("mouthSmileLeft", "browDownLeft", "jawOpen", "noseSneerRight", "mouthPucker", "cheekPuff"):
        assert name in EXPRESSION_BLENDSHAPES
    assert {"smile", "brows", "eyes", "mouth_open"} <= set(FAMILIES)
    for names in FAMILIES.values():
        assert set(names) <= set(EXPRESSION_BLENDSHAPES)


def test_measure_finds_a_face_in_every_real_frame_and_none_in_a_blank_one(smile_clip):
    frames, bs, faces = smile_clip
    assert bs.shape == (len(frames), len(BLENDSHAPE_NAMES))
    assert face_found(bs).all() and all(f is not None for f in faces)
    mixed = measure_blendshapes([frames[0], np.zeros_like(frames[0]), frames[1]], MODEL)
    assert face_found(mixed).tolist() == [True, False, True]
    assert np.isnan(mixed[1]).all()
    # IMAGE mode measures frames independently: the same frame gives the same scores wherever it appears.
    np.testing.assert_allclose(mixed[0], bs[0], atol=1e-5)


def test_the_smile_peak_has_a_far_bigger_residual_than_the_neutral_start(smile_clip):
    _, bs, _ = smile_clip
    neutral = neutral_blendshapes(bs)
    residual = affect_residual(bs, neutral)
    assert residual.min() == 0.0  # the neutral frame itself
    start = residual[:10].mean()
    peak = residual.max()
    assert peak > 5 * start and peak > 2.0
    smile = [BLENDSHAPE_NAMES.index(n) for n in ("mouthSmileLeft", "mouthSmileRight")]
    assert bs[int(np.argmax(residual)), smile].mean() > 0.5


def test_leakage_is_one_for_identity_zero_for_neutral_or_erased_and_linear_in_between(smile_clip):
    _, bs, _ = smile_clip
    neutral = neutral_blendshapes(bs)
    assert leakage_ratio(bs, bs) == pytest.approx(1.0)
    assert leakage_ratio(bs, np.tile(neutral, (len(bs), 1))) == pytest.approx(0.0, abs=1e-6)
    erased = np.full_like(bs, np.nan)
    assert leakage_ratio(bs, erased) == 0.0
    halfway = neutral + 0.5 * (bs - neutral)
    assert leakage_ratio(bs, halfway) == pytest.approx(0.5, abs=1e-4)
    families = family_leakage(bs, bs)
    assert families["smile"] == pytest.approx(1.0)
    assert family_leakage(bs, halfway)["smile"] == pytest.approx(0.5, abs=1e-4)
    # Only the more expressive half counts: changing the calm half of the output changes nothing.
    residual = affect_residual(bs, neutral)
    calm = residual < np.median(residual)
    noisy = bs.copy()
    noisy[calm] = np.clip(noisy[calm] + 0.3, 0, 1)
    assert leakage_ratio(bs, noisy, neutral) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        leakage_ratio(bs, bs[:-1])


def test_held_eye_closures_are_runs_of_both_eyes_shut_not_blinks():
    bs = np.zeros((20, len(BLENDSHAPE_NAMES)), np.float32)
    eyes = [BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]]
    bs[2:4, eyes] = 0.9  # a blink: two frames
    bs[6:12, eyes] = 0.8  # eyes held shut: six frames
    bs[14:19, eyes[0]] = 0.9  # one eye only (a wink held): not both eyes shut
    bs[17:20, eyes[1]] = 0.9  # ... overlapping the other eye for two frames only
    held = held_eye_closures(bs, min_frames=4)
    assert np.flatnonzero(held).tolist() == [6, 7, 8, 9, 10, 11]
    assert not held_eye_closures(bs, min_frames=7).any()
    assert held_eye_closures(bs, min_frames=2).sum() == 2 + 6 + 2


def test_leakage_within_a_subset_of_frames_splits_the_whole(smile_clip):
    _, bs, _ = smile_clip
    neutral = neutral_blendshapes(bs)
    half = np.arange(len(bs)) % 2 == 0
    # Output: the input on the even frames, the neutral face on the odd ones.
    output = np.where(half[:, None], bs, neutral[None])
    assert leakage_ratio(bs, output, neutral, within=half) == pytest.approx(1.0)
    assert leakage_ratio(bs, output, neutral, within=~half) == pytest.approx(0.0, abs=1e-6)
    whole = leakage_ratio(bs, output, neutral)
    assert 0.0 < whole < 1.0
    assert np.isnan(leakage_ratio(bs, output, neutral, within=np.zeros(len(bs), bool)))


def test_excess_leakage_counts_only_expression_beyond_the_neutral_frame(smile_clip):
    _, bs, _ = smile_clip
    neutral = neutral_blendshapes(bs)
    assert leakage_ratio(bs, bs, excess_only=True) == pytest.approx(1.0)
    # A face calmer than the neutral frame (every score at zero) is leakage under the two-sided residual, none
    # beyond the neutral frame.
    relaxed = np.zeros_like(bs)
    relaxed[:, 0] = 1.0  # a face: the row is not NaN
    assert leakage_ratio(bs, relaxed, neutral) > 0.05
    assert leakage_ratio(bs, relaxed, neutral, excess_only=True) == 0.0
    # Above the neutral frame both agree: the smile halfway back is half the excess.
    halfway = neutral + 0.5 * (bs - neutral)
    assert leakage_ratio(bs, halfway, excess_only=True) == pytest.approx(0.5, abs=1e-4)
    per_frame = affect_residual(relaxed, neutral, excess_only=True)
    assert np.all(per_frame == 0.0) and np.all(affect_residual(relaxed, neutral) > 0.0)


def test_speech_kept_is_one_for_identity_and_zero_when_the_face_is_gone(smile_clip):
    _, bs, _ = smile_clip
    assert speech_kept(bs, bs) == pytest.approx(1.0)
    assert speech_kept(bs, np.full_like(bs, np.nan)) == 0.0
    reversed_mouth = bs.copy()
    jaw = BLENDSHAPE_NAMES.index("jawOpen")
    reversed_mouth[:, jaw] = 1.0 - bs[:, jaw]
    assert speech_kept(bs, reversed_mouth) == pytest.approx(-1.0)


def test_gaze_kept_follows_a_glance_and_ignores_crossed_eyes(smile_clip):
    _, _, faces = smile_clip

    def moved(face, right, left):
        """The face with its irises moved along each eye's corner line (eye widths)."""
        points = face.landmarks.copy()
        for (outer, inner), shift, irises in (((33, 133), right, slice(468, 473)), ((263, 362), left, slice(473, 478))):
            points[irises, :2] += shift * (points[inner, :2] - points[outer, :2])
        return Face(landmarks=points)

    face = faces[0]
    looks = np.random.default_rng(1).uniform(-0.2, 0.2, 30)
    glancing = [moved(face, g, -g) for g in looks]  # the same image direction for both eyes
    assert [glance(g) - glance(face) for g in glancing] == pytest.approx(list(looks), abs=1e-4)
    assert gaze_kept(glancing, glancing) == pytest.approx((1.0, 0.0))
    assert gaze_kept(glancing, [face] * len(looks)) == pytest.approx((0.0, np.abs(looks).mean()), abs=1e-3)
    assert gaze_kept(glancing, [moved(face, -g, g) for g in looks])[0] == pytest.approx(-1.0)  # looks the other way
    crossed = [moved(face, g, g) for g in looks]  # both towards the nose, or both apart
    assert [glance(c) for c in crossed] == pytest.approx([glance(face)] * len(looks), abs=1e-4)
    assert all(np.isnan(gaze_kept(glancing, [None] * len(looks))))  # nothing to compare


def test_jitter_of_shaken_landmarks_is_higher(smile_clip):
    _, _, faces = smile_clip
    assert jitter_ratio(faces, faces) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    shaken = [Face(landmarks=f.landmarks + rng.normal(0, 3, f.landmarks.shape).astype(np.float32)) for f in faces]
    assert jitter_ratio(faces, shaken) > 2.0
    assert np.isnan(landmark_jitter([None, None, faces[0]]))
    # A face found only now and then in the output gives no jitter figure rather than a noisy one.
    sparse = [face if i % 3 == 0 else None for i, face in enumerate(faces)]
    assert np.isnan(jitter_ratio(faces, sparse))


def test_judge_sees_happy_at_the_smile_peak_and_not_at_the_start(smile_clip):
    frames, bs, faces = smile_clip
    judge = ExpressionJudge(JUDGE)
    probs = judge.classify_batch(frames, faces)
    assert probs.shape == (len(frames), 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    happy = ExpressionJudge.LABELS.index("happy")
    peak = int(np.argmax(affect_residual(bs, neutral_blendshapes(bs))))
    assert probs[peak, happy] > 0.5
    assert probs[:5, happy].mean() < 0.2
    assert probs[peak, happy] > probs[:5, happy].mean() + 0.4
    np.testing.assert_allclose(judge.classify(frames[peak], faces[peak]), probs[peak], atol=1e-5)

    labels = top_labels(probs)
    assert (labels == happy).mean() > 0.3 and (labels == ExpressionJudge.NEUTRAL).mean() > 0.2
    # With no face in one frame the batch gives a NaN row and the label -1.
    probs_missing = judge.classify_batch(frames[:2], [faces[0], None])
    assert np.isnan(probs_missing[1]).all() and top_labels(probs_missing).tolist()[1] == -1
    table = confusion_table(labels, np.where(labels == happy, ExpressionJudge.NEUTRAL, labels))
    assert table[happy, ExpressionJudge.NEUTRAL] == (labels == happy).sum()
    assert table[:, happy].sum() == 0
    assert "happy" in format_confusion(table)
    assert label_distribution(labels).sum() == pytest.approx(1.0)


def test_judge_crop_handles_a_face_partly_outside_the_frame(smile_clip):
    frames, _, faces = smile_clip
    shifted = Face(landmarks=faces[0].landmarks - np.array([200, 0, 0], np.float32))
    crop = ExpressionJudge.crop(frames[0], shifted)
    assert crop.shape == (64, 64) and crop.dtype == np.uint8


def test_judge_rejects_a_missing_or_broken_model(tmp_path):
    with pytest.raises(JudgeError, match="not found"):
        ExpressionJudge(tmp_path / "nope.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a network")
    with pytest.raises(JudgeError, match="cannot load"):
        ExpressionJudge(broken)
