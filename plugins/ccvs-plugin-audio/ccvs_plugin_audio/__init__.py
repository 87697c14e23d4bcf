"""ccvs condition 'audio': the sound of each frame as tokens (Sec. 4 AudioSet-Drums, Tables 6 and D3,
Appendix A).

A sound file (WAV, FLAC, OGG, ..., any rate, mono or stereo) is resampled to the tokenizer's rate and
cut into one window per video frame at the video's fps; each window's log spectrogram goes through the
sound tokenizer (``ccvs train audio-tokenizer``), giving ``tokens_per_frame`` tokens before every
frame (the authors' setting: 16 tokens from a 1024-entry codebook). The tokenizer's weights are saved
in the pipeline, so generation needs only the pipeline. A second slot, ``onset`` (one token per frame,
no training), says how much louder the frame's window is than the previous one: when a hit starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch

from ccvs_core import (
    Clip,
    Condition,
    ConditionContext,
    Config,
    ConfigError,
    InputError,
    Slot,
    Timeline,
    at_least,
    greater_than,
    load_exported,
)
from ccvs_plugin_audio.sound import Sound, frame_windows, log_spectrogram, onset_tokens, read_sound
from ccvs_plugin_audio.tokenizer import SoundTokenizer, SoundTokenizerConfig

__version__ = "0.5.0"


@attrs.frozen(kw_only=True)
class AudioConfig(Config):
    tokenizer: str = ""  # folder of a trained sound tokenizer (ccvs train audio-tokenizer: OUT/tokenizer)
    sound: SoundTokenizerConfig = attrs.Factory(SoundTokenizerConfig)  # its sizes, read from that folder
    # the onset slot: a frame's rise in loudness over the previous frame, in onset_bins steps of
    # onset_step_db (0 bins: no onset slot, the paper's setting)
    onset_bins: int = attrs.field(default=8, validator=at_least(0))
    onset_step_db: float = attrs.field(default=6.0, validator=greater_than(0))

    def __attrs_post_init__(self) -> None:
        if self.onset_bins == 1:
            raise ConfigError("field 'AudioConfig.onset_bins'", "must be 0 (no onset slot) or at least 2")


@attrs.frozen(kw_only=True)
class AudioOptions(Config):
    """``--cond audio:drums.wav,pad=true``."""

    pad: bool = False  # pad a sound track shorter than the video with silence


class AudioCondition(Condition):
    """Two frame-level slots: ``tokens``, the sound tokenizer's tokens of each frame's window, and
    ``onset``, one token of how much louder that window is than the previous one (a hit's start is
    one value shared by every hit, where the tokenizer spreads hits over many codes each seen rarely).
    Both are additive (``Slot.additive``): each frame's sound is also added to that frame's token
    embeddings, since a sound steers whatever makes it wherever it is in the frame (read through
    attention alone, it was not learnt; benchmarks/control_toyworld.py)."""

    config_class = AudioConfig
    options_class = AudioOptions

    def __init__(self, config: AudioConfig | None = None):
        super().__init__(config)
        self.tokenizer = SoundTokenizer(self.config.sound).eval()

    def slots(self) -> list[Slot]:
        sound = self.config.sound
        slots = [Slot("frame", sound.tokens_per_frame, sound.codebook_size, additive=True)]
        if self.config.onset_bins:
            slots.append(Slot("frame", 1, self.config.onset_bins, name="onset", additive=True))
        return slots

    def prepare(self, videos: Sequence[Any], context: ConditionContext) -> None:
        """Load the trained sound tokenizer (trained on its own, by ``ccvs train audio-tokenizer``) and
        take its sizes into the config."""
        # checked field by field and against the weights' header before it is built
        tokenizer, _ = load_exported(
            self._tokenizer_folder(), "sound_tokenizer", SoundTokenizerConfig, SoundTokenizer
        )
        self.config = self.config.replace(sound=tokenizer.config)
        self.tokenizer = tokenizer

    def _tokenizer_folder(self) -> Path:
        if not self.config.tokenizer:
            raise InputError(
                "--cond audio",
                "needs a trained sound tokenizer: run `ccvs train audio-tokenizer --data DIR --out RUN`, "
                "then train with --cond audio:tokenizer=RUN/tokenizer",
            )
        return Path(self.config.tokenizer)

    def parse(self, spec: str, options: AudioOptions) -> Sound:
        return read_sound(spec, pad=options.pad)

    def from_sample(self, clip: Clip) -> Sound:
        if clip.audio is None:
            raise InputError(f"video '{clip.video_id}'", "has no audio.wav (the audio condition needs one)")
        return Sound.from_channels(
            clip.audio, clip.sample_rate, f"video '{clip.video_id}' audio.wav", pad=True
        )

    def tokenize(self, raw: Sound, timeline: Timeline) -> dict[str, torch.Tensor]:
        if not isinstance(raw, Sound):
            raise InputError("audio", f"expects a Sound (read_sound), got {type(raw).__name__}")
        config = self.config.sound
        # a timeline that starts later in the video also gets the window before its first frame: the
        # first frame's onset is its rise over that window, not over silence
        before = min(1, timeline.start_frame)
        wide = Timeline(timeline.num_frames + before, timeline.fps, timeline.start_frame - before)
        with_before = frame_windows(raw.resampled(config.sample_rate), wide)
        windows = with_before[before:]
        spectrograms = log_spectrogram(windows, config.bins, config.steps)
        device = next(self.tokenizer.parameters()).device
        tokens = self.tokenizer.tokenize(spectrograms.to(device)).cpu()  # [T, tokens_per_frame]
        out = {"tokens": tokens[None]}
        if self.config.onset_bins:
            onsets = onset_tokens(with_before, self.config.onset_bins, self.config.onset_step_db)[before:]
            out["onset"] = onsets[None, :, None]  # [1, T, 1]
        return out
