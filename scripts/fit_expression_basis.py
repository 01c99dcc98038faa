"""Fit the neutraliser's expression basis: how each blendshape score moves the pose-free landmarks.

A ridge regression, over every frame of the shared clips, of the landmark displacement from the person's calmest
frame (pose removed, in eye distances) on the blendshape differences. The auto reference uses it to estimate a
neutral face from expressive frames before a calm one has been seen. Leave-one-clip-out validation is printed
(the clips are five people; the basis is only kept if it explains held-out people's expressions too).

    .venv/bin/python scripts/fit_expression_basis.py   # writes filters/neutralise/expression_basis.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_neutralise import MEDIA, track  # noqa: E402

from filters.neutralise.alignment import frontal_frame, to_pose_free  # noqa: E402
from filters.neutralise.basis import BASIS_PATH  # noqa: E402
from filters.neutralise.reference import expressiveness  # noqa: E402
from filters.neutralise.regions import BROWS, EYES, LIPS  # noqa: E402

RIDGE = 10.0  # chosen by the leave-one-clip-out error below (1, 10, 50 tried)


def clip_data(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames, faces = track(path)
    faces = [found[0] for found in faces if found]
    calmest = int(np.argmin([expressiveness(f.blendshapes) for f in faces]))
    template = frontal_frame(faces[calmest].landmarks).apply(faces[calmest].landmarks)
    shapes = np.stack([to_pose_free(f.landmarks, template)[0] for f in faces])
    scores = np.stack([f.blendshapes for f in faces])
    return shapes - shapes[calmest], scores - scores[calmest], scores[calmest]


def fit(displacements: list[np.ndarray], deltas: list[np.ndarray], ridge: float) -> np.ndarray:
    d = np.concatenate([x.reshape(len(x), -1) for x in displacements])
    x = np.concatenate(deltas)
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ d)


def main() -> int:
    clips = sorted(MEDIA.glob("*.mp4"))
    data = [clip_data(c) for c in clips]
    expressive = np.concatenate([LIPS, BROWS, EYES])
    for ridge in (1.0, 10.0, 50.0):
        errors = []
        for k in range(len(data)):
            others = [d for j, d in enumerate(data) if j != k]
            basis = fit([d[0] for d in others], [d[1] for d in others], ridge)
            disp, delta, _ = data[k]
            predicted = (delta @ basis).reshape(disp.shape)
            left = np.linalg.norm((disp - predicted)[:, expressive], axis=2).mean()
            errors.append(left / np.linalg.norm(disp[:, expressive], axis=2).mean())
        print(f"ridge {ridge:5.1f}: held-out displacement left unexplained " + " ".join(f"{e:.2f}" for e in errors))
    basis = fit([d[0] for d in data], [d[1] for d in data], RIDGE)
    relaxed = np.mean([d[2] for d in data], axis=0)
    np.savez_compressed(BASIS_PATH, basis=basis.astype(np.float16), relaxed=relaxed.astype(np.float32))
    print(f"wrote {BASIS_PATH} ({BASIS_PATH.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
