"""Speech to text offline with pocketsphinx, whose US English model ships in its wheel.

Pure and synchronous, for the CPU pool: a 16 kHz mono 16-bit WAV in, text and timed segments
out. Voice activity detection cuts the audio into utterances and each is decoded on its own,
so memory stays flat on long recordings and every utterance becomes a segment. The decoder
(about half a second to load) is made once per process.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from typing import Any

from mediaworker.errors import BadInputError

SAMPLE_RATE = 16000
MODEL = "pocketsphinx-en-us"
_decoder: Any = None


@dataclass(frozen=True)
class Utterance:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Recognition:
    text: str
    utterances: tuple[Utterance, ...]
    duration_s: float


def recognize(wav_path: str) -> Recognition:
    """The words of a 16 kHz mono 16-bit WAV file."""
    from pocketsphinx import Segmenter

    with wave.open(wav_path, "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise BadInputError("speech recognition needs 16 kHz mono 16-bit audio")
        duration_s = wav.getnframes() / SAMPLE_RATE
        utterances = [
            found
            for speech in Segmenter(sample_rate=SAMPLE_RATE).segment(_Frames(wav))
            if (found := _decode(speech.pcm, speech.start_time, speech.end_time)) is not None
        ]
    text = " ".join(u.text for u in utterances)
    return Recognition(text, tuple(utterances), duration_s)


def _decode(pcm: bytes, start_s: float, end_s: float) -> Utterance | None:
    decoder = _get_decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    if hypothesis is None or not hypothesis.hypstr.strip():
        return None
    return Utterance(round(start_s, 3), round(end_s, 3), hypothesis.hypstr.strip())


def _get_decoder() -> Any:
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        _decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    return _decoder


class _Frames:
    """A `read(n)` view of a WAV file's frames (bytes), as the segmenter wants."""

    def __init__(self, wav: wave.Wave_read) -> None:
        self._wav = wav

    def read(self, size: int) -> bytes:
        return self._wav.readframes(size // 2)
