"""The live engine (source -> tracker -> filter -> sinks), its settings, statistics and fail-closed policy."""

from app.pipeline.engine import Pipeline
from app.pipeline.failsafe import FaceGate, FailSafe
from app.pipeline.frames import STATES, FrameResult, PipelineEvents, Status
from app.pipeline.settings import ON_FACE_LOST, PipelineSettings
from app.pipeline.stats import StatsCollector, StatsSnapshot

__all__ = [
    "STATES",
    "ON_FACE_LOST",
    "FaceGate",
    "FailSafe",
    "FrameResult",
    "Pipeline",
    "PipelineEvents",
    "PipelineSettings",
    "StatsCollector",
    "StatsSnapshot",
    "Status",
]
