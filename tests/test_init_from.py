"""Starting a transformer from a trained one (``--init-from``): shared slots keep their weights."""

import json
import shutil

import pytest
import torch

from ccvs_core.cli import main
from ccvs_core.config import TransformerConfig
from ccvs_core.errors import CheckpointError, PluginError
from ccvs_core.models.transfer import transfer_weights
from ccvs_core.models.transformer import VideoTransformer
from ccvs_core.sequence import SequenceLayout
from ccvs_core.slots import Slot
from ccvs_core.training.transformer import TransformerTrainer
from ccvs_core.training.transformer_run import plan_transformer_run
from ccvs_core.weights import load_tensors, save_tensors
from tests.helpers import stage2_argv, train_with_conditions_cli

CLASS = ("class", Slot("video", 1, 4))
STATE = ("state", Slot("frame", 2, 8, name="xy"))


def model(slots, width=32, window=3, seed=0):
    torch.manual_seed(seed)
    config = TransformerConfig(layers=2, heads=2, width=width, window=window)
    return VideoTransformer(config, SequenceLayout((2, 2), window, slots), frame_vocab=16)


def rows(m, key):
    """The token embedding rows of the values of slot ``key`` of model ``m`` (not its absent token), and
    its slot embedding."""
    slot = next(s for s in m.layout.slots if s.key == key)
    values = m.token.weight[m.token_rows(slot.id)]
    return (values if slot.slot is None else values[: slot.slot.vocab_size]), m.slot.weight[slot.id]


def test_shared_slots_are_copied_and_new_ones_keep_their_initialisation():
    source = model([CLASS], seed=1)
    target = model([STATE, CLASS], window=4, seed=2)
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    transfer = transfer_weights(source, target, "src")
    # the token table is the slots' vocabularies end to end: frame 16, start 1, state 8 + absent, class 4 + absent
    assert [target.token_rows(i) for i in range(4)] == [
        slice(0, 16),
        slice(16, 17),
        slice(17, 26),
        slice(26, 31),
    ]
    assert target.token.num_embeddings == 31
    assert transfer.shared == ("frame", "start", "class.tokens") and transfer.new == ("state.xy",)
    for name, value in source.blocks.state_dict().items():
        assert torch.equal(target.blocks.state_dict()[name], value), name
    assert torch.equal(target.head.weight, source.head.weight)
    for key in transfer.shared:  # the class slot sits at another place in the target's tables
        for theirs, ours in zip(rows(source, key), rows(target, key), strict=True):
            assert torch.equal(theirs, ours), key
    state_rows, state_slot = rows(target, "state.xy")
    assert torch.equal(state_rows, rows(model([STATE, CLASS], window=4, seed=2), "state.xy")[0])
    assert torch.equal(state_slot, fresh["slot.weight"][2])
    # the source's 3 frame times are copied; the target's fourth is its own
    assert torch.equal(target.time.weight[:4], source.time.weight)
    assert torch.equal(target.time.weight[4], fresh["time.weight"][4])


def test_models_of_other_sizes_or_codebooks_are_refused():
    with pytest.raises(CheckpointError, match="src: its transformer has width = 64, this run 32"):
        transfer_weights(model([], width=64), model([]), "src")
    other = VideoTransformer(
        TransformerConfig(layers=2, heads=2, width=32, window=3), SequenceLayout((2, 2), 3), 32
    )
    with pytest.raises(CheckpointError, match="codebook of 32, this run's"):
        transfer_weights(other, model([]), "src")


def test_cli_adds_a_condition_to_a_trained_pipeline(stage1, tmp_path, capsys):
    data, autoencoder = stage1
    base = tmp_path / "base"
    argv = stage2_argv(stage1)
    assert main([*argv, "--out", str(base), "--steps", "2", "--layers", "1"]) == 0
    capsys.readouterr()
    out = tmp_path / "class"
    start = ["--init-from", str(base / "pipeline"), "--cond", "class"]
    assert main([*argv, "--out", str(out), "--steps", "1", *start]) == 0
    printed = " ".join(capsys.readouterr()).replace("\n", " ")  # the console may wrap the report
    assert "copied frame, start" in printed and "new: class.tokens" in printed
    run = json.loads((out / "run.json").read_text())
    assert run["init_from"] == str(base / "pipeline") and run["transformer"]["layers"] == 1  # its size
    # before any step the new run's blocks are the base's own
    trainer = TransformerTrainer(
        plan_transformer_run(tmp_path / "fresh", autoencoder, "tiny", {}, {"class": {}}, base / "pipeline"),
        data,
        tmp_path / "fresh",
        progress=False,
    )
    base_weights = load_tensors(base / "transformer" / "model.safetensors")
    for name, value in trainer.model.blocks.state_dict().items():
        assert torch.equal(value, base_weights[f"transformer.blocks.{name}"]), name
    # resuming reads the checkpoint (with or without the flag), and may not name another start
    assert main([*argv, "--out", str(out), "--steps", "2", *start]) == 0
    assert main([*argv, "--out", str(out), "--steps", "3", "--cond", "class"]) == 0
    other = ["--init-from", str(out / "pipeline"), "--cond", "class"]  # a pipeline, not the one it began from
    assert main([*argv, "--out", str(out), "--steps", "4", *other]) == 2
    assert "init_from" in capsys.readouterr().err


def test_a_pipeline_of_another_autoencoder_is_refused(stage1, tmp_path):
    data, autoencoder = stage1
    pipeline = train_with_conditions_cli(stage1, tmp_path / "base", [], steps=1)
    other = tmp_path / "other-autoencoder"
    shutil.copytree(autoencoder, other)
    weights = load_tensors(other / "model.safetensors")
    name = next(iter(weights))
    save_tensors(other / "model.safetensors", {**weights, name: weights[name] + 1})
    run = plan_transformer_run(tmp_path / "t", other, "tiny", {}, None, pipeline)
    with pytest.raises(CheckpointError, match="its autoencoder is not the one in"):
        TransformerTrainer(run, data, tmp_path / "t", progress=False)
    with pytest.raises(CheckpointError, match=r"missing/config\.json: file not found"):
        plan_transformer_run(tmp_path / "u", autoencoder, "tiny", {}, None, tmp_path / "missing")


END = ("endframe", Slot("target", 4, 16, init="frame_tokens"))


def test_frame_token_slots_start_as_the_frame_embeddings():
    fresh = model([END])
    end_rows, _ = rows(fresh, "endframe.tokens")
    assert torch.equal(end_rows, rows(fresh, "frame")[0])  # a fresh model: its own frame rows
    source = model([], window=4, seed=1)
    with torch.no_grad():
        source.token.weight.add_(1.0)  # "trained": unlike any fresh initialisation
    target = model([END], window=4, seed=2)
    transfer = transfer_weights(source, target, "src")
    assert transfer.new == ("endframe.tokens",) and transfer.from_frames == ("endframe.tokens",)
    assert torch.equal(rows(target, "endframe.tokens")[0], rows(source, "frame")[0])


def test_a_frame_token_slot_must_use_the_codebook():
    wrong = ("endframe", Slot("target", 4, 8, init="frame_tokens"))
    with pytest.raises(PluginError, match=r"condition 'endframe'.*vocab_size 8; the codebook has 16"):
        model([wrong])


POINT_X = ("track", Slot("frame", 1, 8, name="x", init="column"))
POINT_Y = ("track", Slot("frame", 1, 2, name="y", init="row"))


def places(m):
    """The frame tokens' position embeddings as the grid ``[h, w, D]``."""
    h, w = m.layout.grid
    return m.index.weight[: h * w].view(h, w, -1)


def test_coordinate_slots_start_as_the_places_they_point_at():
    m = model([POINT_X, POINT_Y])  # a 2 x 2 grid
    grid = places(m)
    x_rows, _ = rows(m, "track.x")
    y_rows, _ = rows(m, "track.y")
    own = m.index.weight[0]  # each slot's single token sits at in-slot position 0
    # 8 x-bins over 2 columns: bins 0-1 at or left of column 0's centre, 6-7 at or right of column 1's
    columns = grid.mean(0)  # [w, D]: a column's mean over its rows
    for v in (0, 1):
        assert torch.allclose(x_rows[v] + own, columns[0], atol=1e-6)
    for v in (6, 7):
        assert torch.allclose(x_rows[v] + own, columns[1], atol=1e-6)
    # bin 3 covers (3.5 / 8) of the width: a quarter of the way from column 0's centre to column 1's
    assert torch.allclose(x_rows[3] + own, 0.625 * columns[0] + 0.375 * columns[1], atol=1e-6)
    # 2 y-bins over 2 rows: one each, a row's mean over its columns
    assert torch.allclose(y_rows + own, grid.mean(1), atol=1e-6)


def test_new_coordinate_slots_point_at_the_trained_places():
    source = model([], window=4, seed=1)
    with torch.no_grad():
        source.index.weight.mul_(10.0)  # "trained": unlike any fresh initialisation
    target = model([POINT_X], window=4, seed=2)
    transfer = transfer_weights(source, target, "src")
    assert transfer.new == ("track.x",) and transfer.from_places == ("track.x",)
    x_rows, _ = rows(target, "track.x")
    assert torch.allclose(x_rows[0] + source.index.weight[0], places(source).mean(0)[0], atol=1e-5)
    # a slot the source already had keeps its trained rows
    again = model([POINT_X], window=4, seed=3)
    assert transfer_weights(target, again, "src").from_places == ()
    assert torch.equal(rows(again, "track.x")[0], x_rows)


def test_additive_rows_carry_over_and_new_ones_start_at_zero():
    additive_class = ("class", Slot("video", 1, 4, additive=True))
    source = model([additive_class], seed=1)
    with torch.no_grad():
        source.add.weight.normal_()  # "trained"
    target = model([STATE, additive_class], window=4, seed=2)
    transfer_weights(source, target, "src")
    assert torch.equal(target.add.weight, source.add.weight)  # the class's rows, where they now sit
    # a slot made additive only now (the source read it from the sequence alone) starts at zero
    now = model([additive_class], seed=3)
    transfer_weights(model([CLASS], seed=4), now, "src")
    assert now.add.weight.abs().sum() == 0
