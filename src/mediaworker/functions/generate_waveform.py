"""generate_waveform: audiowaveform data (JSON and .dat, version 2) and an SVG and PNG image.

Payload: WaveformPayload(media_id, force=False). Works on audio files and on a video's audio
track; a video without audio is BAD_INPUT.
Side effects: four objects at media/{id}/{id}-waveform_{json,dat,svg,png}.{ext}; four
media_derivatives rows upserted; the duration as decoded, the sample rate and the channels on
the media row; the row READY if these were the last derivatives it expected (ERROR with a code
when the job fails for good). The data's sample rate is the source's up to 48 kHz: the scratch
PCM is at most 96 KB a second of audio, whatever the input.
Idempotency: the job id names the row (registry.py); a run that finds the four derivatives
returns them without work, unless `force`.
Retries: STORAGE, NETWORK, TIMEOUT retried with backoff; BAD_INPUT, NOT_FOUND fail at once.
Progress: decoding (ffmpeg's -progress) to 0.7, drawing, storing, done.
"""

from __future__ import annotations

from mediaworker.config import AudioConfig
from mediaworker.context import Context
from mediaworker.db import media_facts
from mediaworker.db.media import Media
from mediaworker.errors import BadInputError
from mediaworker.events.progress import scaled
from mediaworker.functions import audio_video as av
from mediaworker.functions.audio_video import DT, WAVEFORM_TYPES, Output
from mediaworker.functions.steps import SOUND_KINDS, already_done, load_media
from mediaworker.payloads import WaveformPayload, WaveformResult
from mediaworker.processing.ffmpeg import decode_pcm_argv, pcm_sample_rate
from mediaworker.processing.probe import Probe
from mediaworker.processing.waveform import Waveform, WaveformSpec, make_waveform


async def generate_waveform(ctx: Context, payload: WaveformPayload) -> WaveformResult:
    media = await load_media(ctx, payload.media_id, SOUND_KINDS)
    done = await already_done(ctx, media.id, WAVEFORM_TYPES)
    if done is not None and not payload.force:
        await av.finish(ctx, media.id, WAVEFORM_TYPES)
        return WaveformResult(
            media_id=media.id,
            skipped=True,
            duration_s=media.duration_s,
            sample_rate=media.sample_rate,
            channels=media.channels,
            derivatives=done,
        )

    wave, probe = await draw(ctx, media)
    derivatives = await av.store_outputs(ctx, media.id, outputs(wave, ctx.settings.audio))
    # The container's duration when it has one (decoded MP3 frames include the encoder's
    # padding); a video's row keeps the duration of its video.
    duration_s = probe.duration_s or wave.duration_s
    channels = probe.audio.channels if probe.audio else None
    await media_facts.set_audio_facts(
        ctx.db,
        media.id,
        duration_s=duration_s if probe.kind == "AUDIO" else None,
        sample_rate=(probe.audio.sample_rate if probe.audio else None) or wave.sample_rate,
        channels=channels,
    )
    await av.finish(ctx, media.id, WAVEFORM_TYPES)
    return WaveformResult(
        media_id=media.id,
        skipped=False,
        duration_s=duration_s,
        sample_rate=wave.sample_rate,
        channels=channels,
        samples_per_pixel=wave.samples_per_pixel,
        bits=wave.bits,
        length=wave.length,
        derivatives=derivatives,
    )


async def draw(ctx: Context, media: Media) -> tuple[Waveform, Probe]:
    """Decode the first audio track to mono PCM, then peaks and images in the CPU pool."""
    audio = ctx.settings.audio
    async with av.fetched_original(ctx, media) as original:
        probe = await av.probe_of(ctx, media, original)
        if probe.audio is None:
            raise BadInputError("this video has no audio track: there is no waveform to draw")
        pcm = original.with_name("audio.pcm")
        argv = decode_pcm_argv(
            ctx.settings.media.ffmpeg_path,
            str(original),
            probe,
            str(pcm),
            max_duration_s=ctx.settings.media.max_duration_s,
        )
        limit_s = ctx.settings.media.max_duration_s
        done = await av.run_ffmpeg(
            argv,
            timeout_s=audio.waveform_timeout_s,
            what="audio decoding",
            expected_s=min(probe.duration_s or 0, limit_s) or None,
            part=scaled(0.05, 0.7),
        )
        rate = pcm_sample_rate(probe)
        decoded_s = pcm.stat().st_size / 2 / rate if pcm.is_file() else 0.0
        await av.check_decoded(original, probe, done, decoded_s, limit_s=limit_s, audio_only=True)
        await ctx.progress(0.7, "drawing")
        wave = await ctx.cpu.run(make_waveform, str(pcm), rate, spec(audio))
    await ctx.progress(0.85, "storing")
    return wave, probe


def spec(config: AudioConfig) -> WaveformSpec:
    return WaveformSpec(
        samples_per_pixel=config.waveform_samples_per_pixel,
        pixels_per_second=config.waveform_pixels_per_second,
        bits=config.waveform_bits,
        image_width=config.waveform_image_size.width,
        image_height=config.waveform_image_size.height,
        colour=config.waveform_colour,
        background=config.waveform_background,
    )


def outputs(wave: Waveform, config: AudioConfig) -> list[Output]:
    width, height = config.waveform_image_size.width, config.waveform_image_size.height
    return [
        Output(DT.WAVEFORM_JSON, wave.json),
        Output(DT.WAVEFORM_DAT, wave.dat),
        Output(DT.WAVEFORM_SVG, wave.svg, width=width, height=height),
        Output(DT.WAVEFORM_PNG, wave.png, width=width, height=height),
    ]
