"""Where the neutraliser's leakage comes from: per clip, the blendshapes left in the output at strength 1.

For each clip (auto reference, the held-out expression basis as ``eval_neutralise.py --held-out-basis`` uses it),
prints the leakage ratio and, for the blendshapes that leave the most, each one's residual in the output and in the
input as shares of the input's whole residual over the more expressive half of the frames (the issue's measure,
taken apart). A blendshape whose output share is as large as its input share is not removed at all; one larger
than its input share is added by the filter (or the baseline frame itself is not relaxed). Where the input's
eyes are shut, it also prints the eyeSquint the output keeps on those frames: the Face Landmarker scores every shut
eye as squinting, calm blinks included, so that part is the eye closure "keep blinks" keeps.

    .venv/bin/python scripts/leakage_by_blendshape.py [--clips d3,d6] [--step 2] [--top 8]

Reads the held-out bases ``eval_neutralise.py --held-out-basis`` leaves in bench-out/neutralise/ (fits them if
missing). Nothing else is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import eval_neutralise as evaluation  # noqa: E402

from app.lab import metrics  # noqa: E402
from filters import BLENDSHAPE_INDEX  # noqa: E402
from filters.neutralise import basis  # noqa: E402

SHUT = 0.5  # both eyeBlink scores above this: the input's eyes are shut


def frame_residuals(bs_in: np.ndarray, bs_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(the person's neutral frame's scores, the more expressive half of the frames as a mask, and per selected
    frame and expression blendshape the input's and the output's residual): the issue's measure, not yet summed."""
    neutral = bs_in[metrics.neutral_frame(bs_in)]
    selected = metrics.expressive_half(metrics.affect_residual(bs_in, neutral))
    idx = [BLENDSHAPE_INDEX[name] for name in metrics.EXPRESSION_BLENDSHAPES]
    residual_in = np.abs(bs_in[selected][:, idx] - neutral[idx])
    # An output frame without a face counts as the neutral face, as in leakage_ratio.
    out = bs_out[selected][:, idx]
    residual_out = np.abs(np.where(np.isnan(out), neutral[idx], out) - neutral[idx])
    return neutral, selected, residual_in, residual_out


def closed_eye_squint(bs_in: np.ndarray, bs_out: np.ndarray) -> tuple[int, float, float]:
    """(expressive frames with the input's eyes shut, the eyeSquint residual left in the output on those frames as
    a share of the input's whole residual, the leakage ratio without the eyeSquint residual of those frames in
    either sum). The Face Landmarker scores any shut eye as squinting (a calm blink too), so with blinks kept
    that much of the ratio is the kept eye closure, not a squeeze the filter left."""
    _, selected, residual_in, residual_out = frame_residuals(bs_in, bs_out)
    squints = [k for k, name in enumerate(metrics.EXPRESSION_BLENDSHAPES) if name.startswith("eyeSquint")]
    blinks = bs_in[selected][:, [BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]]]
    shut = blinks.min(axis=1) > SHUT
    total = max(float(residual_in.sum()), 1e-9)
    kept_out = float(residual_out[shut][:, squints].sum())
    kept_in = float(residual_in[shut][:, squints].sum())
    without = (float(residual_out.sum()) - kept_out) / max(total - kept_in, 1e-9)
    return int(shut.sum()), kept_out / total, without


def shares(bs_in: np.ndarray, bs_out: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(leakage ratio, per expression blendshape the output's and the input's residual as shares of the input's
    whole residual), over the more expressive half of the frames."""
    neutral, _, residual_in, residual_out = frame_residuals(bs_in, bs_out)
    total = max(float(residual_in.sum()), 1e-9)
    leak = metrics.leakage_ratio(bs_in, bs_out, neutral)
    return leak, residual_out.sum(axis=0) / total, residual_in.sum(axis=0) / total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default="", help="comma-separated name parts, e.g. d3,d6 (default: all)")
    parser.add_argument("--step", type=int, default=2, help="measure every Nth frame (the filter sees them all)")
    parser.add_argument("--top", type=int, default=8, help="how many blendshapes to list per clip")
    args = parser.parse_args()
    clips = sorted(evaluation.MEDIA.glob("*.mp4"))
    if args.clips:
        parts = args.clips.split(",")
        clips = [c for c in clips if any(c.stem.endswith("_" + p) for p in parts)]
    if not clips:
        parser.error(f"no clip in {evaluation.MEDIA} matches {args.clips!r}")
    bases = {c.name: evaluation.OUT / f"basis_without_{c.stem}.npz" for c in clips}
    if not all(path.exists() for path in bases.values()):
        bases = evaluation.held_out_bases()
    for clip in clips:
        basis.BASIS_PATH = bases[clip.name]
        basis._load.cache_clear()
        frames, faces = evaluation.track(clip)
        picked = list(range(0, len(frames), args.step))
        bs_in, _ = metrics.measure_faces([frames[i] for i in picked], evaluation.MODEL)
        out, _ = evaluation.run_filter(frames, faces, strength=1.0)
        bs_out, _ = metrics.measure_faces([out[i] for i in picked], evaluation.MODEL)
        leak, out_share, in_share = shares(bs_in, bs_out)
        print(f"{clip.stem}: leakage @1 {leak:.3f} (output share / input share of the input's residual)")
        for k in np.argsort(out_share)[::-1][: args.top]:
            print(f"   {metrics.EXPRESSION_BLENDSHAPES[k]:20s} {out_share[k]:.3f} / {in_share[k]:.3f}")
        shut, kept, without = closed_eye_squint(bs_in, bs_out)
        if shut:
            print(
                f"   input's eyes shut in {shut} expressive frames: their eyeSquint left in the output is {kept:.3f} "
                f"of the input's residual; leakage without it {without:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
