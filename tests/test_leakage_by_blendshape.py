"""The leakage diagnostic's closed-eye split, on blendshape tables built by hand (no video needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from filters import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import leakage_by_blendshape as diagnostic  # noqa: E402


def test_the_squint_of_shut_eyes_is_split_off_and_the_rest_of_the_ratio_recomputed():
    frames = 8
    bs_in = np.zeros((frames, len(BLENDSHAPE_NAMES)), np.float32)
    bs_in[1:, BLENDSHAPE_INDEX["browInnerUp"]] = 0.4  # frame 0 is the neutral one, the rest raise their brows
    shut = [5, 6, 7]  # ... and these also shut their eyes, which scores as squinting
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        bs_in[shut, BLENDSHAPE_INDEX[name]] = 0.8
    for name in ("eyeSquintLeft", "eyeSquintRight"):
        bs_in[shut, BLENDSHAPE_INDEX[name]] = 0.6
    bs_out = bs_in.copy()
    bs_out[:, BLENDSHAPE_INDEX["browInnerUp"]] = 0.1  # the filter took three quarters of the brows away
    count, kept, without = diagnostic.closed_eye_squint(bs_in, bs_out)
    assert count == 3
    whole = 7 * 0.4 + 3 * 2 * 0.6  # the input's residual over its expressive half (frames 1-7)
    assert kept == pytest.approx(3 * 2 * 0.6 / whole)
    assert without == pytest.approx(7 * 0.1 / (7 * 0.4))  # the brows alone: a quarter left
