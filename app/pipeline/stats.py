"""Live statistics over a sliding window: output fps, dropped frames, added latency p50/p95, stage times."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

STAGES = ("read_wait", "track", "filter", "sink", "total")


@dataclass(frozen=True)
class StatsSnapshot:
    """``latency_*_ms``: frame captured -> handed to the sinks. ``stage_ms``: mean per stage over the window.
    ``dropped``: frames the source dropped (it keeps only the newest) plus frames the engine skipped.
    ``resent``: obscured repeats sent while the source stalled (not counted in ``frames`` or ``fps``)."""

    fps: float = 0.0
    frames: int = 0
    dropped: int = 0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)
    resent: int = 0

    def line(self) -> str:
        """One human line, for the terminal."""
        stages = " ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items() if k != "total")
        return (
            f"{self.fps:5.1f} fps | latency p50 {self.latency_p50_ms:5.1f} ms p95 {self.latency_p95_ms:5.1f} ms"
            f" | frames {self.frames} dropped {self.dropped} | ms: {stages}"
        )


class StatsCollector:
    """Keeps the last ``window_s`` seconds (at most ``max_samples`` frames) of per-frame measurements."""

    def __init__(self, window_s: float = 3.0, max_samples: int = 1000) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float, dict[str, float]]] = deque(maxlen=max_samples)
        self._lock = threading.Lock()
        self.frames = 0
        self.skipped = 0
        self.resent = 0

    def record(self, sent_at: float, latency_s: float, timings_ms: dict[str, float]) -> None:
        with self._lock:
            self._samples.append((sent_at, latency_s, timings_ms))
            self.frames += 1

    def snapshot(self, now: float, source_dropped: int = 0) -> StatsSnapshot:
        with self._lock:
            recent = [s for s in self._samples if now - s[0] <= self.window_s]
            frames, dropped, resent = self.frames, source_dropped + self.skipped, self.resent
        if not recent:
            return StatsSnapshot(frames=frames, dropped=dropped, resent=resent)
        span = recent[-1][0] - recent[0][0]
        # n frames sent over the span cover n-1 intervals; with one frame there is no rate yet.
        fps = (len(recent) - 1) / span if span > 0 else 0.0
        latencies_ms = np.array([s[1] for s in recent]) * 1000.0
        p50, p95 = np.percentile(latencies_ms, [50, 95])
        stage_ms = {
            stage: float(np.mean([s[2][stage] for s in recent if stage in s[2]]))
            for stage in STAGES
            if any(stage in s[2] for s in recent)
        }
        return StatsSnapshot(fps, frames, dropped, float(p50), float(p95), stage_ms, resent)
