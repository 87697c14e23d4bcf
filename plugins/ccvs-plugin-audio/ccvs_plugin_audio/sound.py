"""Sound tracks as the audio condition reads them: decoded, mono, resampled, cut into one window per
video frame, and turned into log-magnitude spectrograms (the sound tokenizer's input)."""

from __future__ import annotations

import os

import attrs
import numpy as np
import torch

from ccvs_core import InputError, Timeline, read_audio

MAX_SECONDS = 600.0  # of a track given to --cond audio: (a generated video uses seconds of it)


@attrs.frozen(eq=False)
class Sound:
    """Mono samples ``[N]`` (float32, [-1, 1]) at ``rate`` Hz. ``pad``: a track shorter than the video is
    padded with silence instead of refused."""

    samples: torch.Tensor
    rate: int
    source: str = "sound"
    pad: bool = False

    @classmethod
    def from_channels(
        cls, samples: np.ndarray | torch.Tensor, rate: int, source: str, pad: bool = False
    ) -> Sound:
        """``[channels, N]`` samples (any channel count) -> mono (the channels' mean)."""
        samples = torch.as_tensor(np.asarray(samples, dtype=np.float32))
        if samples.ndim != 2 or samples.shape[1] == 0:
            raise InputError(source, f"holds no audio samples (shape {tuple(samples.shape)})")
        if not torch.isfinite(samples).all():
            raise InputError(source, "audio samples contain NaN or infinity")
        return cls(samples.mean(0), int(rate), source, pad)

    def resampled(self, rate: int) -> Sound:
        if rate == self.rate:
            return self
        import torchaudio  # here, not at the top: importing it takes 0.1-0.25 s of every ccvs command

        samples = torchaudio.functional.resample(self.samples, self.rate, rate)
        return attrs.evolve(self, samples=samples, rate=rate)


def read_sound(path: str | os.PathLike, pad: bool = False) -> Sound:
    """Any audio file (WAV, FLAC, OGG, MP3, or a video's sound track), any rate, mono or stereo. Decoded by
    ccvs-core's PyAV reader: torchaudio 2.9's own loader needs torchcodec, which ccvs does not depend on."""
    samples, rate = read_audio(path, max_seconds=MAX_SECONDS)  # InputError naming a bad file
    cut = samples.shape[1] >= MAX_SECONDS * rate
    return Sound.from_channels(
        samples, rate, f"{path} (its first {MAX_SECONDS:g} s)" if cut else str(path), pad
    )


def frame_windows(sound: Sound, timeline: Timeline) -> torch.Tensor:
    """One window of ``rate / fps`` samples per frame of ``timeline`` (frame t covers its own duration,
    from its time on): ``[T, W]``. A track that ends before the video is an InputError, unless
    ``sound.pad`` (then silence fills the rest); a track at most one window short is always padded."""
    rate, fps = sound.rate, timeline.fps
    width = round(rate / fps)
    first = round(timeline.start_frame * rate / fps)
    starts = first + np.round(np.arange(timeline.num_frames) * rate / fps).astype(np.int64)
    end = int(starts[-1]) + width
    samples = sound.samples
    missing = end - samples.shape[0]
    if missing > width and not sound.pad:
        have, need = samples.shape[0] / rate, end / rate
        raise InputError(
            sound.source,
            f"lasts {have:.2f} s, the video needs {need:.2f} s ({timeline.num_frames} frames at {fps:g} fps "
            f"from frame {timeline.start_frame})",
            "give a longer track, fewer --frames, or pad it with silence: --cond audio:FILE,pad=true",
        )
    if missing > 0:
        samples = torch.nn.functional.pad(samples, (0, missing))
    index = torch.from_numpy(starts)[:, None] + torch.arange(width)
    return samples[index]


def log_spectrogram(windows: torch.Tensor, bins: int, steps: int) -> torch.Tensor:
    """Windows ``[T, W]`` -> ``log(1 + |STFT|)`` ``[T, 1, bins, steps]``: ``bins`` frequencies (an FFT of
    ``2 (bins - 1)`` samples, Hann window) at ``steps`` evenly spaced times across each window."""
    n_fft = 2 * (bins - 1)
    hop = max(1, windows.shape[1] // steps)
    window = torch.hann_window(n_fft, device=windows.device)
    spec = torch.stft(
        windows, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
    )
    magnitude = spec.abs()[:, :, :steps]  # [T, bins, >= steps] with center=True
    if magnitude.shape[2] < steps:
        magnitude = torch.nn.functional.pad(magnitude, (0, steps - magnitude.shape[2]))
    return torch.log1p(magnitude).unsqueeze(1)


def onset_strength(windows: torch.Tensor, floor_db: float = -60.0) -> torch.Tensor:
    """How much louder each window is than the one before: ``[T, W]`` -> ``[T]`` dB, at least 0. Loudness
    is the window's mean power in dB full scale, floored at ``floor_db`` (quieter is silence, so a faint
    hiss after silence is no onset); the first window is compared with silence."""
    power = windows.double().pow(2).mean(1)
    loudness = (10 * torch.log10(power.clamp(min=1e-30))).clamp(min=floor_db)
    previous = torch.cat([loudness.new_full((1,), floor_db), loudness[:-1]])
    return (loudness - previous).clamp(min=0).float()


def onset_tokens(windows: torch.Tensor, bins: int, step_db: float) -> torch.Tensor:
    """Each window's onset strength in ``bins`` steps of ``step_db`` dB (0: no louder than before, the
    last bin: ``(bins - 1) * step_db`` dB louder or more) -> ``[T]`` tokens."""
    return (onset_strength(windows) / step_db).floor().long().clamp(0, bins - 1)
