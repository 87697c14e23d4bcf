"""Each built-in condition's tokens of one toyworld clip are the ones recorded in
``tests/data/condition_tokens.safetensors``: a change of the plugin API must not change what a
condition means.

Everything the tokens depend on is pinned here, not taken from defaults that may move: every field
of the toyworld config, the autoencoder's config and seed (random weights, its codebook drawn from the
clip's latents as training's first step does: E and Q's mapping is pinned, not its quality), the sound
tokenizer's, and the plugins' configs. Re-record
(``python tests/test_condition_tokens_unchanged.py --record``) only when a plugin's tokens are meant
to change, and say why in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

RECORDED = Path(__file__).parent / "data" / "condition_tokens.safetensors"
TOYWORLD = {
    "videos": 1, "frames": 8, "size": 32, "seed": 11, "fps": 10.0, "sample_rate": 8000,
    "min_objects": 2, "max_objects": 3, "min_hit_gap": 2, "max_pan_speed": 1.5,
}  # fmt: skip
AUTOENCODER = {
    "channels": [8, 16], "embed_dim": 16, "codebook_size": 32, "beta": 0.25, "flow_radius": 2,
    "flow_channels": 8, "max_contexts": 4, "flow_finest_level": 1, "flow_match": True, "fuse_rgb": True,
}  # fmt: skip
SOUND = {
    "sample_rate": 8000, "bins": 16, "steps": 8, "channels": 8, "levels": 2, "code_dim": 8,
    "codebook_size": 64, "beta": 0.25,
}  # fmt: skip
CONFIGS = {
    "state": [{"encoding": "cell", "offset_bins": 4}, {"encoding": "xy", "bins": 32}],
    "audio": [{"onset_bins": 8, "onset_step_db": 6.0}],
    "layout": [{"grid": [4, 4], "min_cover": 0.25}],
    "endframe": [{}],
    "class": [{}],
}
SEED = 3
WINDOW_START, WINDOW_FRAMES = 2, 4


def current_tokens(root: Path) -> dict[str, torch.Tensor]:
    """``{"<condition>/<config i>/<what>/<slot>": tokens}`` of the toyworld clip, with the installed plugins."""
    from ccvs_plugin_audio.tokenizer import SoundTokenizer, SoundTokenizerConfig

    from ccvs_core import Timeline, get_condition
    from ccvs_core.conditioning import condition_context
    from ccvs_core.config import AutoencoderConfig
    from ccvs_core.data.clips import ClipDataset
    from ccvs_core.data.toyworld import ToyworldConfig, generate_toyworld
    from ccvs_core.models.autoencoder import FlowAutoencoder, frames_to_tensor
    from ccvs_core.models.io import export_module
    from ccvs_core.slots import check_tokens
    from ccvs_core.training.conditions import video_tokens

    data = root / "toyworld"
    generate_toyworld(ToyworldConfig.from_dict(TOYWORLD), data, workers=1, progress=False)
    torch.manual_seed(SEED)
    autoencoder = FlowAutoencoder(AutoencoderConfig.from_dict(AUTOENCODER)).eval()
    torch.manual_seed(SEED)
    sound = SoundTokenizer(SoundTokenizerConfig.from_dict(SOUND)).eval()
    export_module(sound, "sound_tokenizer", sound.config, root / "tokenizer")
    clips = ClipDataset(data, num_frames=TOYWORLD["frames"], size=32, split=None, crop="first")
    clip = clips.video_clip(0)
    with torch.no_grad():
        latents = autoencoder.encode(frames_to_tensor(clip.frames)).z
    autoencoder.quantizer.initialize_from(latents, torch.Generator().manual_seed(SEED))
    context = condition_context(autoencoder, (32, 32), clip.fps)
    out = {}
    for name, configs in CONFIGS.items():
        cls = get_condition(name)
        for i, values in enumerate(configs):
            values = {**values, "tokenizer": str(root / "tokenizer")} if name == "audio" else values
            condition = cls(cls.config_class.from_dict({**cls.config_class().to_dict(), **values}))
            condition.context = context
            condition.prepare(clips.videos, context)
            raw = condition.from_sample(clip)
            timelines = {
                "whole": Timeline(TOYWORLD["frames"], clip.fps),
                "window": Timeline(WINDOW_FRAMES, clip.fps, WINDOW_START),
            }
            for what, timeline in timelines.items():
                tokens = condition.tokenize(raw, timeline)
                tokens = check_tokens(name, condition.slots(), tokens, 1, timeline.num_frames)
                out.update({f"{name}/{i}/{what}/{slot}": value for slot, value in tokens.items()})
            training = video_tokens(condition, clip)
            out.update({f"{name}/{i}/training/{slot}": value for slot, value in training.items()})
    return {key: value.long().contiguous() for key, value in out.items()}


def test_every_built_in_makes_the_recorded_tokens(tmp_path):
    from safetensors.torch import load_file

    recorded = load_file(RECORDED)
    now = current_tokens(tmp_path)
    assert sorted(now) == sorted(recorded)
    changed = [key for key in recorded if not torch.equal(now[key], recorded[key])]
    assert not changed, f"tokens changed: {changed}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(f"usage: python {sys.argv[0]} --record   (rewrites {RECORDED})")
    import tempfile

    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory() as tmp:
        tokens = current_tokens(Path(tmp))
    RECORDED.parent.mkdir(exist_ok=True)
    save_file(tokens, str(RECORDED))
    print(f"recorded {len(tokens)} token tensors in {RECORDED}")
