"""How much the measuring landmarker's BROW scores move when only the MOUTH changes.

The leakage measure reads expression from MediaPipe's blendshapes, which a small model computes from the landmarks
of the whole face. This script checks whether its brow scores stay put when the brows do: it takes a clip's
baseline frame (the input frame with the lowest expression sum, as the leakage measure picks it) and the frames
whose brows read calmest, closes only their mouths with the neutraliser (``regions=("mouth",)``, no texture, the
clip's own auto reference), and re-measures input and output with a fresh IMAGE-mode landmarker. It prints, per
frame, jawOpen and the brow scores before and after, and how far the brow landmarks moved (pose-free, in eye
distances: the outer eye corners' distance).

Brow scores that rise while the brow landmarks stay where they were mean that, on a talking clip whose baseline
frame has the mouth open, a neutral closed mouth is counted as brow leakage.

    .venv/bin/python scripts/mouth_brow_coupling.py [--clip liveportrait_d10.mp4] [--frames 12]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_neutralise import MEDIA, MODEL, track  # noqa: E402

from app.lab.metrics import face_found, measure_faces, neutral_frame  # noqa: E402
from filters import BLENDSHAPE_INDEX, create_filter  # noqa: E402
from filters.neutralise.alignment import to_pose_free  # noqa: E402
from filters.neutralise.reference import AutoReference  # noqa: E402
from filters.neutralise.regions import BROWS  # noqa: E402

BROW_SCORES = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft", "browDownRight")


def brow_height(face, template: np.ndarray) -> float:
    """Mean pose-free height of the brow landmarks (y points down, eye distances)."""
    return float(to_pose_free(face.landmarks, template)[0][BROWS, 1].mean())


def brow_sum(scores: np.ndarray) -> float:
    return float(sum(scores[BLENDSHAPE_INDEX[name]] for name in BROW_SCORES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="liveportrait_d10.mp4", help="a clip in ../shared/media (or a path)")
    parser.add_argument("--frames", type=int, default=12, help="how many calm-brow frames besides the baseline")
    args = parser.parse_args()
    clip = Path(args.clip) if Path(args.clip).exists() else MEDIA / args.clip
    if not clip.exists():
        print(f"no such clip: {args.clip}", file=sys.stderr)
        return 2

    frames, faces = track(clip)
    measured, measured_faces = measure_faces(frames, MODEL)
    if not face_found(measured).any():
        print("no face found in the clip", file=sys.stderr)
        return 1
    baseline = neutral_frame(measured)  # the baseline frame, as the leakage measure picks it
    inner_up = np.where(face_found(measured), measured[:, BLENDSHAPE_INDEX["browInnerUp"]], np.inf)
    picked = [baseline] + [int(i) for i in np.argsort(inner_up) if i != baseline and faces[i]][: args.frames]

    auto = AutoReference()  # the clip's own auto reference, as the filter would have it by the clip's end
    for frame, found in zip(frames, faces):
        if found:
            reference = auto.update(frame, found[0])
    # How the brow scores' sum follows the brows' own height over the clip's input frames (least squares): what
    # the brows' own movement in the output would explain.
    rows = [
        (-brow_height(f, auto.template), brow_sum(measured[i])) for i, f in enumerate(measured_faces) if f is not None
    ]
    heights, sums = np.array(rows).T
    slope = float(np.polyfit(heights, sums, 1)[0])
    mouth_only = create_filter("neutralise", strength=1.0, regions=("mouth",), texture=False, reference=reference)
    outputs = [mouth_only.apply(frames[i].copy(), faces[i]) for i in picked]
    before, faces_before = measured[picked], [measured_faces[i] for i in picked]  # measured once, above
    after, faces_after = measure_faces(outputs, MODEL)

    header = "frame  jawOpen      " + "  ".join(f"{n:<16s}" for n in BROW_SCORES) + "  brows up  explains"
    print(f"{clip.name}: the baseline frame is #{baseline}; mouths closed by the neutraliser (mouth only)\n")
    print(f"over the clip's frames the brow scores' sum rises {slope:.1f} per eye distance the brows rise\n")
    print(header)
    rises, explained = [], []
    for k, i in enumerate(picked):
        if faces_before[k] is None or faces_after[k] is None:
            print(f"#{i:<5d} (no face found)")
            continue
        raised = brow_height(faces_before[k], auto.template) - brow_height(faces_after[k], auto.template)
        scores = [BLENDSHAPE_INDEX[n] for n in BROW_SCORES]
        cells = "  ".join(f"{before[k, j]:.2f}->{after[k, j]:.2f}".ljust(16) for j in scores)
        jaw = f"{before[k, BLENDSHAPE_INDEX['jawOpen']]:.2f}->{after[k, BLENDSHAPE_INDEX['jawOpen']]:.2f}"
        tag = " (baseline)" if i == baseline else ""
        print(f"#{i:<5d} {jaw:<12s} {cells}  {raised:+.3f}    {slope * raised:+.2f}{tag}")
        rises.append(brow_sum(after[k]) - brow_sum(before[k]))
        explained.append(slope * raised)
    if rises:
        print(
            f"\nchange of the brow scores' sum: mean {np.mean(rises):+.2f}, of which the brows' own rise explains "
            f"{np.mean(explained):+.2f} (baseline frame: {rises[0]:+.2f}, explained {explained[0]:+.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
