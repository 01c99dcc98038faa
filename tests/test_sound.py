"""``deadpan process`` keeps a recording's sound: real clips with sound (d10), real PyAV, the real CLI."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from app import cli
from app.sinks import VideoFileSink
from app.sinks.audio import AudioCopyError, copy_audio

from .conftest import MEDIA, MODEL
from .helpers import read_frames, tracked_clip
from .pipeline_doubles import face_hidden

TALK = MEDIA / "liveportrait_d10.mp4"  # a young woman talking: the only shared clips with sound are d3, d6, d10, d12
SILENT = MEDIA / "liveportrait_d0.mp4"


def first_seconds(source, out, seconds: float) -> None:
    """The first ``seconds`` of ``source``, picture and sound copied as they are (no re-encoding)."""
    with av.open(str(source)) as inp, av.open(str(out), "w") as output:
        streams = {s.index: output.add_stream_from_template(s) for s in (inp.streams.video[0], inp.streams.audio[0])}
        for packet in inp.demux(*(inp.streams.video[0], inp.streams.audio[0])):
            if packet.dts is None or packet.dts * packet.time_base >= seconds:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)


def sound_packets(path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(stream) if p.dts is not None]


def test_the_filtered_video_gets_the_input_sound_unchanged_and_in_step(tmp_path):
    talk = tmp_path / "talk.mp4"
    first_seconds(TALK, talk, 2.0)
    raw = read_frames(talk)
    out = tmp_path / "talk-blurred.mp4"
    assert cli.main(["process", str(talk), "-o", str(out), "--model", str(MODEL), "--no-progress"]) == 0
    # The sound: every packet, byte for byte, at the same time.
    assert sound_packets(out) == sound_packets(talk) and len(sound_packets(out)) > 50
    # The picture: the filtered one, every frame, never the input's.
    written = read_frames(out)
    _, faces = tracked_clip(TALK)
    assert len(written) == len(raw) > 50
    assert all(face_hidden(o, r, f[0]) for o, r, f in zip(written[::10], raw[::10], faces[::10]))
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        picture, sound = container.streams.video[0], container.streams.audio[0]
        assert abs(float(picture.duration * picture.time_base) - float(sound.duration * sound.time_base)) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk-blurred.mp4", "talk.mp4"]  # no temporary file


def test_a_recording_without_sound_gives_a_silent_file_and_says_nothing_of_sound(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert cli.main(["process", str(SILENT), "-o", str(out), "--model", str(MODEL), "--no-progress"]) == 0
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video"]
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said.startswith("deadpan: wrote") and "its sound" not in said and "sound was" not in said


def test_sound_that_cannot_be_copied_leaves_the_picture_saved_and_says_why(tmp_path):
    # A sound the container cannot hold: raw PCM in a .avi, copied into an .mp4.
    odd = tmp_path / "odd.avi"
    with av.open(str(odd), "w") as output:
        picture = output.add_stream("mpeg4", rate=25)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        sound = output.add_stream("pcm_s16le", rate=8000)
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            for packet in picture.encode(frame):
                output.mux(packet)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        samples.sample_rate, samples.pts, samples.time_base = 8000, 0, Fraction(1, 8000)
        for packet in [*sound.encode(samples), *sound.encode(None)]:
            output.mux(packet)
        for packet in picture.encode(None):
            output.mux(packet)
    picture_only = tmp_path / "picture.mp4"
    writer = VideoFileSink(picture_only)
    writer.start(64, 48, 25)
    for frame in read_frames(odd):
        writer.write(frame)
    writer.stop()
    with pytest.raises(AudioCopyError):
        copy_audio(odd, picture_only, tmp_path / "both.mp4")
    assert not (tmp_path / "both.mp4").exists()
    sink = VideoFileSink(tmp_path / "out.mp4", sound_from=odd)
    sink.start(64, 48, 25)
    for frame in read_frames(odd):
        sink.write(frame)
    sink.stop()
    assert sink.sound.startswith("not kept: ") and len(read_frames(tmp_path / "out.mp4")) == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.avi", "out.mp4", "picture.mp4"]
    assert copy_audio(SILENT, picture_only, tmp_path / "none.mp4") is False and not (tmp_path / "none.mp4").exists()
