"""Milliseconds per frame of each obscuring filter (and the fail-closed obscure_frame) at 1280x720 and 1920x1080.

A shared clip is tracked once at its own size; each frame is then scaled to fit the target height and centred on
a canvas of the target size (the landmarks moved the same way), so every resolution times the same faces
without re-tracking. Only the filter call is timed (the frame copy it works on is made before the clock starts).

    .venv/bin/python scripts/bench_filters.py [--clip PATH] [--frames 150] [--strength 1.0] [--repeat 3]

The machine is shared and noisy: the wall-clock median over several repeats is the number to quote; CPU time of
this process is printed beside it as a check against contention.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.tracking import FaceTracker  # noqa: E402
from filters import Face, create_filter  # noqa: E402
from filters.face_region import face_size  # noqa: E402
from filters.obscure import obscure_frame  # noqa: E402

SHARED = ROOT.parent / "shared"
RESOLUTIONS = ((1280, 720), (1920, 1080))
FILTERS = ("blur", "pixelate", "mask")


def tracked(clip: Path, model: Path, max_frames: int) -> list[tuple[np.ndarray, list[Face]]]:
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    pairs = []
    with FaceTracker(model) as tracker:
        while len(pairs) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            faces = tracker.track(frame, int(len(pairs) * 1000 / fps))
            if faces:
                pairs.append((frame, faces))
    cap.release()
    if not pairs:
        raise SystemExit(f"no face found in {clip}")
    return pairs


def placed(frame: np.ndarray, faces: list[Face], width: int, height: int) -> tuple[np.ndarray, list[Face]]:
    """The frame scaled to ``height`` and centred on a ``width`` x ``height`` canvas, with its faces."""
    scale = height / frame.shape[0]
    scaled = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    offset = (width - scaled.shape[1]) // 2
    canvas = cv2.copyMakeBorder(
        scaled, 0, 0, max(offset, 0), max(width - scaled.shape[1] - offset, 0), cv2.BORDER_REPLICATE
    )[:, :width]
    moved = []
    for face in faces:
        landmarks = face.landmarks * scale
        landmarks[:, 0] += offset
        moved.append(Face(landmarks, face.blendshapes, face.pose, face.face_id))
    return canvas, moved


def time_calls(call, inputs, repeat: int) -> tuple[np.ndarray, float]:
    """Wall-clock ms of every call (over ``repeat`` passes) and the median CPU ms per call."""
    wall, cpu = [], []
    for _ in range(repeat):
        for args in inputs:
            work = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            start, start_cpu = time.perf_counter(), time.process_time()
            call(*work)
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return np.asarray(wall), float(np.median(cpu))


def row(name: str, width: int, height: int, wall: np.ndarray, cpu: float) -> str:
    return f"{name:<10} {width:>5}x{height:<4} {np.median(wall):>10.2f} {np.percentile(wall, 95):>8.2f} {cpu:>7.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=SHARED / "media" / "liveportrait_d10.mp4")
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "face_landmarker.task")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's own)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    pairs = tracked(args.clip, args.model, args.frames)
    print(f"{args.clip.name}: {len(pairs)} frames x {args.repeat} passes, strength {args.strength}, "
          f"OpenCV threads {cv2.getNumThreads()}")  # fmt: skip
    print(f"{'filter':<10} {'size':>10} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7}")
    for width, height in RESOLUTIONS:
        frames = [placed(frame, faces, width, height) for frame, faces in pairs]
        size = max(face_size(f) for _, faces in frames for f in faces)
        for name in FILTERS:
            filt = create_filter(name, args.strength)
            wall, cpu = time_calls(filt.apply, frames, args.repeat)
            print(row(name, width, height, wall, cpu))
        wall, cpu = time_calls(obscure_frame, [(frame,) for frame, _ in frames], args.repeat)
        print(row("obscure", width, height, wall, cpu))
        print(f"{'':<10} (largest face there: {size:.0f} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
