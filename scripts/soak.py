"""Soak test: N minutes of 1280x720 at 30 fps through the whole live pipeline, watching for leaks and drift.

A shared clip is scaled to 1280x720 (pillarboxed), written once to a temporary video and played in a loop by
the real ``VideoFileSource`` at its own pace (like a camera); the real pipeline tracks and filters it (the
neutraliser, or ``blur`` if it is not registered) and sends it through the real ``pyvirtualcam.Camera`` to a
counting backend (the driver is the one part that cannot exist here). Every 10 s it samples the process's
RSS, threads, open files and descriptors, and the pipeline's fps and latency.

Pass criteria (exit status 0 when all hold): RSS growth after the first minute < 5%; no growth in threads or
open files/descriptors after the first minute; fps steady (every sample after the first minute within 20% of
the median).

    .venv/bin/python scripts/soak.py [--minutes 10] [--clip liveportrait_d6.mp4] [--json artifacts/soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pyvirtualcam

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.pipeline import Pipeline, PipelineSettings  # noqa: E402
from app.sinks import VirtualCameraSink  # noqa: E402
from app.sources import VideoFileSource  # noqa: E402
from filters import filter_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BACKEND = "deadpan-soak-counter"
SIZE = (1280, 720)


class CountingBackend:
    """A virtual-camera driver double that only counts frames (keeping them would itself grow memory)."""

    frames = 0
    lock = threading.Lock()

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self._device = device or "Deadpan Soak Camera"

    def send(self, frame: np.ndarray) -> None:
        with CountingBackend.lock:
            CountingBackend.frames += 1

    def device(self) -> str:
        return self._device

    def close(self) -> None:
        pass


def scaled_clip(clip: Path, folder: Path) -> Path:
    """The clip pillarboxed to 1280x720 at its own fps, written once (so decoding costs what a camera's would)."""
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out_path = folder / "soak_720p.mp4"
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        height, width = frame.shape[:2]
        scale = SIZE[1] / height
        resized = cv2.resize(frame, (round(width * scale), SIZE[1]), interpolation=cv2.INTER_LINEAR)
        pad = SIZE[0] - resized.shape[1]
        writer.write(cv2.copyMakeBorder(resized, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE))
    writer.release()
    cap.release()
    return out_path


def sample(process: psutil.Process, pipeline: Pipeline, started: float) -> dict:
    stats = pipeline.stats()
    return {
        "t_s": round(time.monotonic() - started, 1),
        "rss_mb": round(process.memory_info().rss / 2**20, 1),
        "threads": process.num_threads(),
        "open_files": len(process.open_files()),
        "fds": process.num_fds() if hasattr(process, "num_fds") else None,
        "fps": round(stats.fps, 2),
        "frames": stats.frames,
        "dropped": stats.dropped,
        "latency_p50_ms": round(stats.latency_p50_ms, 1),
        "latency_p95_ms": round(stats.latency_p95_ms, 1),
        "sent_to_camera": CountingBackend.frames,
        "status": pipeline.status.state,
        "load_avg_1min": round(os.getloadavg()[0], 2),  # the machine is shared: fps means little without it
    }


def summarise(samples: list[dict], warmup_s: float) -> dict:
    steady = [s for s in samples if s["t_s"] >= warmup_s] or samples[-1:]
    first, last = steady[0], steady[-1]
    fps = [s["fps"] for s in steady]
    median_fps = statistics.median(fps)
    summary = {
        "duration_s": last["t_s"],
        "rss_mb_after_warmup": first["rss_mb"],
        "rss_mb_end": last["rss_mb"],
        "rss_mb_max": max(s["rss_mb"] for s in steady),
        "rss_growth_pct": round(100.0 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 2),
        "thread_growth": last["threads"] - first["threads"],
        "open_file_growth": last["open_files"] - first["open_files"],
        "fd_growth": (last["fds"] - first["fds"]) if last["fds"] is not None else None,
        "fps_median": median_fps,
        "fps_min": min(fps),
        "fps_max": max(fps),
        "fps_stdev": round(statistics.pstdev(fps), 2),
        "latency_p95_ms_max": max(s["latency_p95_ms"] for s in steady),
        "frames": last["frames"],
        "dropped": last["dropped"],
        "sent_to_camera": last["sent_to_camera"],
        "load_avg_median": statistics.median(s["load_avg_1min"] for s in steady),
    }
    summary["pass"] = {
        "rss_growth_below_5pct": summary["rss_growth_pct"] < 5.0,
        "no_thread_growth": summary["thread_growth"] <= 0,
        "no_open_file_growth": summary["open_file_growth"] <= 0 and (summary["fd_growth"] or 0) <= 0,
        "fps_steady_within_20pct": all(abs(f - median_fps) <= 0.2 * median_fps for f in fps),
    }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clip", default="liveportrait_d6.mp4", help="a clip in ../shared/media")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "soak.json")
    args = parser.parse_args()

    filter_name = "neutralise" if "neutralise" in filter_names() else "blur"
    if filter_name != "neutralise":
        print("soak: the neutraliser is not registered; falling back to blur", file=sys.stderr)
    pyvirtualcam.register_backend(BACKEND, CountingBackend)
    process = psutil.Process()
    samples: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="deadpan-soak-") as folder:
        video = scaled_clip(SHARED / "media" / args.clip, Path(folder))
        source = VideoFileSource(video, realtime=True, loop=True)
        sink = VirtualCameraSink(backend=BACKEND)
        settings = PipelineSettings(filter_name=filter_name)
        pipeline = Pipeline(source, [sink], settings, model_path=SHARED / "models" / "face_landmarker.task")
        started = time.monotonic()
        pipeline.start()
        try:
            end = started + args.minutes * 60.0
            next_sample = started + args.every
            while time.monotonic() < end:
                time.sleep(max(0.0, min(next_sample, end) - time.monotonic()))
                if not pipeline.running:
                    print("soak: the pipeline stopped by itself", file=sys.stderr)
                    break
                samples.append(sample(process, pipeline, started))
                print(json.dumps(samples[-1]), flush=True)
                next_sample += args.every
        finally:
            pipeline.stop()
    summary = summarise(samples, warmup_s=60.0 if args.minutes > 1.5 else 0.0)
    summary.update(filter=filter_name, clip=args.clip, size=f"{SIZE[0]}x{SIZE[1]}", minutes=args.minutes)
    print(json.dumps(summary, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"summary": summary, "samples": samples}, indent=2))
    return 0 if all(summary["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
