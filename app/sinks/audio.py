"""Keeping a recording's sound: the filtered picture and the original audio in one file.

OpenCV writes pictures only, so ``deadpan process talk.mp4 -o out.mp4`` came out silent. Once the filtered
picture is written, the input's sound is copied in beside it packet by packet (PyAV, no re-encoding: the sound is
unchanged and it takes milliseconds). The picture is always the filtered file's own stream, never the input's.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path


class AudioCopyError(Exception):
    """The sound could not be copied; the message says why in a few words."""


def copy_audio(sound_from: str | Path, picture_from: str | Path, out: str | Path) -> bool:
    """Write ``out``: the video stream of ``picture_from`` and the first audio stream of ``sound_from``, in step
    (the sound keeps its offset from the start of ``sound_from``'s picture). False, and nothing written, when
    ``sound_from`` has no sound; AudioCopyError when it cannot be done."""
    try:
        import av
    except ImportError as exc:
        raise AudioCopyError(f"PyAV is not installed ({exc})") from None
    try:
        with av.open(str(sound_from)) as source:
            if not source.streams.audio:
                return False
            with av.open(str(picture_from)) as picture, av.open(str(out), "w") as output:
                sound_in, picture_in = source.streams.audio[0], picture.streams.video[0]
                picture_out = output.add_stream_from_template(picture_in)  # first, where players look for it
                sound_out = output.add_stream_from_template(sound_in)
                # OpenCV's file starts at 0; the input's picture may start later than 0 (an edit list).
                first = source.streams.video[0].start_time if source.streams.video else None
                start = first * source.streams.video[0].time_base if first else Fraction(0)
                packets = heapq.merge(
                    _timed(picture.demux(picture_in), Fraction(0)),
                    _timed(source.demux(sound_in), start),
                    key=lambda item: item[0],
                )  # interleaved by time, as players read them; neither file is held in memory
                for _, packet, is_sound in packets:
                    packet.stream = sound_out if is_sound else picture_out
                    output.mux(packet)
    except Exception as exc:  # av.FFmpegError and friends: the container cannot hold this sound, or a bad file
        Path(out).unlink(missing_ok=True)
        raise AudioCopyError(_one_line(exc)) from None
    return True


def _timed(packets: Iterator, start: Fraction) -> Iterator[tuple[Fraction, object, bool]]:
    """(seconds from ``start``, packet, is sound) for each packet with a time; sound before ``start`` is dropped,
    and sound is shifted so that ``start`` becomes 0."""
    for packet in packets:
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        is_sound = packet.stream.type == "audio"
        if start and is_sound:
            shift = round(start / packet.time_base)
            if packet.pts is not None and packet.pts < shift:
                continue
            packet.pts = None if packet.pts is None else packet.pts - shift
            packet.dts -= shift
        yield packet.dts * packet.time_base, packet, is_sound


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
