#!/usr/bin/env python3
"""Engine benchmark: live fps and added latency, and offline ``deadpan process`` speed, for one filter.

For each clip and each size (native, 1280x720, 1920x1080; the clip is scaled to the height and its edges
extended sideways, so the face keeps its shape) this measures:

- live: ``VideoFileSource`` paced at 30 fps -> ``Pipeline`` (real tracker, the filter) -> ``NullSink``;
  output fps, frames dropped by the source, added latency (captured -> handed to the sink) p50/p95, stage means;
- offline: ``process_video`` (what ``deadpan process`` runs after start-up) wall time and fps.

The machine may be shared: every measurement is repeated ``--repeat`` times and the median run is reported,
together with the load average at the start. Example:

    .venv/bin/python scripts/bench_engine.py --json artifacts/bench_engine.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.pipeline import Pipeline, PipelineSettings  # noqa: E402
from app.pipeline.offline import process_video  # noqa: E402
from app.sinks import NullSink  # noqa: E402
from app.sources import VideoFileSource  # noqa: E402

SHARED = Path(os.environ.get("DEADPAN_SHARED", ROOT.parent / "shared"))
SIZES = {"native": None, "720p": (1280, 720), "1080p": (1920, 1080)}
LIVE_FPS = 30.0


def make_variant(clip: Path, size: tuple[int, int] | None, folder: Path, max_frames: int) -> Path:
    """The clip re-encoded at 30 fps (so the live source paces at 30), scaled to ``size`` if given."""
    name = f"{clip.stem}_{'native' if size is None else f'{size[0]}x{size[1]}'}.mp4"
    out = folder / name
    if out.exists():
        return out
    capture = cv2.VideoCapture(str(clip))
    writer = None
    count = 0
    while count < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        if size is not None:
            width, height = size
            scaled = cv2.resize(frame, (round(frame.shape[1] * height / frame.shape[0]), height), cv2.INTER_CUBIC)
            pad = max(0, width - scaled.shape[1])
            frame = cv2.copyMakeBorder(scaled, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)[:, :width]
        if writer is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out), fourcc, LIVE_FPS, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
        count += 1
    capture.release()
    writer.release()
    return out


def measure_live(path: Path, settings: PipelineSettings, model: Path) -> dict:
    latencies, stages, sent = [], {}, []

    def on_frame(result) -> None:
        latencies.append((result.sent_at - result.captured_at) * 1000.0)
        sent.append(result.sent_at)
        for stage, ms in result.timings_ms.items():
            stages.setdefault(stage, []).append(ms)

    source = VideoFileSource(path, realtime=True)
    pipeline = Pipeline(source, [NullSink()], settings, model_path=model)
    pipeline.events.frame.connect(on_frame)
    cpu = os.times()
    with pipeline:
        pipeline.wait()
    cpu_s = _cpu_seconds_since(cpu)
    snapshot = pipeline.stats()
    total = source.info.frame_count or len(sent)
    span = sent[-1] - sent[0] if len(sent) > 1 else float("nan")
    p50, p95 = np.percentile(latencies, [50, 95])
    return {
        "fps": (len(sent) - 1) / span,
        "frames_in": total,
        "frames_out": len(sent),
        "dropped": snapshot.dropped,  # by the source (newest only) plus skipped between the two stages
        "stall_repeats": snapshot.resent,
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
        "stage_ms": {k: float(np.mean(v)) for k, v in stages.items()},
        "cpu_ms_per_frame": 1000.0 * cpu_s / max(1, len(sent)),
    }


def _cpu_seconds_since(before: os.times_result) -> float:
    """CPU time this process used since ``before`` (all threads): a load-independent measure of the work."""
    now = os.times()
    return (now.user - before.user) + (now.system - before.system)


def measure_process(path: Path, settings: PipelineSettings, model: Path, folder: Path) -> dict:
    out = folder / f"out_{path.name}"
    cpu = os.times()
    report = process_video(path, out, settings, model_path=model)
    cpu_s = _cpu_seconds_since(cpu)
    out.unlink(missing_ok=True)
    return {
        "cpu_ms_per_frame": 1000.0 * cpu_s / max(1, report.frames),
        "fps": report.fps,
        "wall_s": report.wall_s,
        "frames": report.frames,
        "stage_ms": {k: v["mean"] for k, v in report.stage_ms.items()},
    }


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda r: r["fps"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["fps_all"] = [round(r["fps"], 1) for r in runs]
    if "latency_p95_ms" in chosen:
        chosen["latency_p95_all"] = [round(r["latency_p95_ms"], 1) for r in runs]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path, help="default: every clip in ../shared/media")
    parser.add_argument("--filter", default="blur")
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--sizes", default="native,720p,1080p", help="comma separated: native, 720p, 1080p")
    parser.add_argument("--max-frames", type=int, default=300, help="frames per clip (default 300 = 10 s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-process", action="store_true")
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "face_landmarker.task")
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    args = parser.parse_args(argv)
    clips = args.clips or sorted((SHARED / "media").glob("*.mp4"))
    settings = PipelineSettings(filter_name=args.filter, strength=args.strength)
    rows = []
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs", flush=True)
    header = (
        f"{'clip':24} {'size':>9} | {'live fps':>8} {'drop':>5} {'p50 ms':>7} {'p95 ms':>7} {'cpu ms':>6} | "
        f"{'process fps':>11} {'cpu ms':>6} {'2-core bound':>12}"
    )
    print(header + "\n" + "-" * len(header), flush=True)
    with tempfile.TemporaryDirectory(prefix="deadpan-bench-") as tmp:
        folder = Path(tmp)
        for clip in clips:
            for size_name in args.sizes.split(","):
                path = make_variant(clip, SIZES[size_name], folder, args.max_frames)
                height, width = cv2.VideoCapture(str(path)).read()[1].shape[:2]
                row = {"clip": clip.name, "size": f"{width}x{height}", "load": os.getloadavg()[0]}
                if not args.skip_live:
                    row["live"] = median_run([measure_live(path, settings, args.model) for _ in range(args.repeat)])
                if not args.skip_process:
                    runs = [measure_process(path, settings, args.model, folder) for _ in range(args.repeat)]
                    row["process"] = median_run(runs)
                rows.append(row)
                live, proc = row.get("live", {}), row.get("process", {})
                nan = float("nan")
                # CPU per frame over 2 cores: the fps this work allows on an otherwise idle 2-core machine.
                bound = 2000.0 / proc["cpu_ms_per_frame"] if proc else nan
                print(
                    f"{clip.stem:24} {row['size']:>9} | {live.get('fps', nan):8.1f} {live.get('dropped', 0):5d} "
                    f"{live.get('latency_p50_ms', nan):7.1f} {live.get('latency_p95_ms', nan):7.1f} "
                    f"{live.get('cpu_ms_per_frame', nan):6.1f} | {proc.get('fps', nan):11.1f} "
                    f"{proc.get('cpu_ms_per_frame', nan):6.1f} {bound:12.1f}",
                    flush=True,
                )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {"filter": args.filter, "strength": args.strength, "cpus": os.cpu_count(), "rows": rows}
        document["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
        args.json.write_text(json.dumps(document, indent=2))
        print(f"wrote {args.json}")
    # The stated targets, for a quick verdict.
    for row in rows:
        if row["size"] == "1280x720":
            live, proc = row.get("live"), row.get("process")
            if live:
                ok = live["fps"] >= 29.0 and live["latency_p95_ms"] < 40.0
                verdict = "meets" if ok else "misses"
                print(f"{row['clip']} 720p live: {verdict} 30 fps / p95 < 40 ms")
            if proc:
                print(f"{row['clip']} 720p process: {'meets' if proc['fps'] >= 60 else 'misses'} 60 fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
