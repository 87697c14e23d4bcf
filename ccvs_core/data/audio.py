"""Read any audio file PyAV decodes; write 16-bit PCM WAV (what the dataset format stores)."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import av
import numpy as np

from ccvs_core.atomic import atomic_path
from ccvs_core.errors import InputError

MAX_SAMPLE_RATE = 384_000  # Hz: the highest rate audio interfaces record
MAX_CHANNELS = 64


def read_audio(
    path: str | os.PathLike, stream_index: int = 0, max_seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Decode an audio file (or a video file's sound track) to float32 samples ``[channels, n]``
    in [-1, 1], with its sample rate; with ``max_seconds``, only the track's beginning (decoding
    stops there, so a long file costs what is read). Rates and channel counts past the limits above
    are refused before decoding."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "audio file not found")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(path, "has no audio stream")
            stream = container.streams.audio[stream_index]
            codec = stream.codec_context
            if codec is None:  # a damaged header leaves the stream without a decoder, or a rate
                raise InputError(path, "has an audio stream that cannot be decoded (no codec)")
            rate = int(getattr(stream, "rate", 0) or codec.sample_rate or 0)
            channels = codec.channels
            if not 0 < rate <= MAX_SAMPLE_RATE:
                raise InputError(path, f"has a sample rate of {rate} Hz; 1 to {MAX_SAMPLE_RATE} Hz are read")
            if not 0 < channels <= MAX_CHANNELS:
                raise InputError(path, f"has {channels} channels; 1 to {MAX_CHANNELS} are read")
            wanted = None if max_seconds is None else max(1, int(np.ceil(max_seconds * rate)))
            # Float planar output keeps channels apart whatever the stored sample format is.
            resampler = av.AudioResampler(format="fltp")
            chunks, have = [], 0
            for frame in container.decode(stream):
                for piece in resampler.resample(frame):
                    chunks.append(piece.to_ndarray())
                    have += chunks[-1].shape[1]
                if wanted is not None and have >= wanted:
                    break
            else:
                chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    except InputError:
        raise
    except (av.FFmpegError, ValueError, IndexError) as err:
        raise InputError(path, f"cannot be decoded as audio ({err})") from err
    if not chunks:
        raise InputError(path, "audio stream holds no samples")
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return samples[:, :wanted], rate


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples ``[channels, n]`` (or ``[n]``) in [-1, 1] as 16-bit PCM WAV, atomically."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise InputError(path, f"audio samples must be [channels, n], got shape {tuple(samples.shape)}")
    if not np.isfinite(samples).all():
        raise InputError(path, "audio samples contain NaN or infinity")
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(np.ascontiguousarray(pcm.T).tobytes())
