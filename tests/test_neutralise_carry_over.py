"""A change of the neutraliser's options builds a new filter; the person's neutral face must survive it."""

from app.pipeline import Pipeline, PipelineSettings
from app.sources.base import CapturedFrame
from filters.neutralise import NeutraliseFilter, NeutralReference

from .conftest import MEDIA, MODEL
from .helpers import tracked_clip


def test_calibrated_reference_survives_an_option_change_in_the_engine():
    frames, _ = tracked_clip(MEDIA / "liveportrait_d3.mp4")
    frames = frames[179:215]  # d3's longest relaxed stretch (calibration rejects expressive frames)
    pipeline = Pipeline(None, [], PipelineSettings(filter_name="neutralise"), model_path=MODEL)
    try:
        first = pipeline.filter
        first.start_calibration(seconds=0.3)
        i = 0
        while first.calibration_progress is not None and i < len(frames) - 1:
            pipeline.process_frame(CapturedFrame(frames[i], i / 30, i), timestamp_ms=i * 33)
            i += 1
        assert first.reference_source == "calibrated", first.calibration_message
        calibrated = first.reference(0)
        pipeline.update(filter_options={"keep_speech": True, "regions": ("brows", "mouth")})
        pipeline.process_frame(CapturedFrame(frames[i], i / 30, i), timestamp_ms=i * 33)
        second = pipeline.filter
        assert second is not first and second.keep_speech and second.gains["eyes"] == 0.0
        assert second.reference_source == "calibrated" and second.reference(0) is calibrated
        # A filter given its own reference keeps it: carrying over never overrides an explicit choice.
        explicit = NeutraliseFilter(reference=calibrated)
        explicit.carry_over(NeutraliseFilter())
        assert explicit.reference_source == "file" and explicit.reference(0) is calibrated
        # ... except over a face calibrated since: the app passes the face saved for next time along with every
        # option change, and a calibration made in this session is newer than that file.
        saved_face = NeutralReference(calibrated.landmarks.copy())
        pipeline.update(filter_options={"keep_speech": False, "reference": saved_face})
        pipeline.process_frame(CapturedFrame(frames[i], i / 30, i), timestamp_ms=i * 33)
        third = pipeline.filter
        assert third is not second and third.reference_source == "calibrated" and third.reference(0) is calibrated
        after_auto = NeutraliseFilter(reference=saved_face)
        after_auto.carry_over(NeutraliseFilter())
        assert after_auto.reference_source == "file" and after_auto.reference(0) is saved_face
    finally:
        pipeline.stop()
