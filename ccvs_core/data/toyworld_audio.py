"""Toyworld's sound track: percussive hits at random frames, each a decaying drum sound (a pitched
thump plus a noise burst) that starts exactly at the sample of its frame's time."""

from __future__ import annotations

import math

import numpy as np

HIT_SECONDS = 0.25  # length of one hit's sound (it has decayed to silence well before)


def hit_frames(rng: np.random.Generator, frames: int, min_gap: int) -> list[int]:
    """Frames at which the striker hits the pad: from frame 1 on, at least ``min_gap`` frames
    apart, each further gap one frame longer with probability 0.6 (geometric)."""
    hits = []
    t = int(rng.integers(1, min_gap + 1))
    while t < frames:
        hits.append(t)
        t += min_gap + int(rng.geometric(0.4)) - 1
    return hits


def onset_sample(frame: int, fps: float, sample_rate: int) -> int:
    """The sample at which frame ``frame`` starts: ``round(frame * sample_rate / fps)``."""
    return round(frame * sample_rate / fps)


def num_samples(frames: int, fps: float, sample_rate: int) -> int:
    """Samples of a track that lasts exactly ``frames / fps`` seconds."""
    return onset_sample(frames, fps, sample_rate)


def drum_track(rng: np.random.Generator, onsets: list[int], length: int, sample_rate: int) -> np.ndarray:
    """A mono track ``[1, length]`` float32, silent except for one drum hit starting at each onset.

    The drum's pitch, decay and noise mix are drawn once per video; each hit gets its own loudness."""
    pitch = rng.uniform(60, 180)  # Hz, falling from 2.5x to 1x within ~10 ms
    decay = rng.uniform(0.02, 0.05)  # seconds
    noise_mix = rng.uniform(0.2, 0.45)  # < 0.5: the first sample, (1 - mix) + mix * noise, is never 0
    n = max(1, round(HIT_SECONDS * sample_rate))
    tau = np.arange(n) / sample_rate  # [n] seconds since the onset
    # Phase of a tone of frequency pitch * (1 + 1.5 exp(-tau / 0.01)), integrated; a cosine, so that
    # the hit's very first sample is loud (the attack).
    phase = 2 * math.pi * pitch * (tau + 0.015 * (1 - np.exp(-tau / 0.01)))
    envelope = np.exp(-tau / decay)
    track = np.zeros(length, dtype=np.float64)
    for onset in onsets:
        noise = rng.uniform(-1, 1, size=n)
        sound = rng.uniform(0.5, 0.9) * envelope * ((1 - noise_mix) * np.cos(phase) + noise_mix * noise)
        stop = min(length, onset + n)
        if stop > onset:
            track[onset:stop] += sound[: stop - onset]
    return np.clip(track, -1, 1).astype(np.float32)[None]
