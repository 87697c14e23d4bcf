"""The training loop of a condition plugin's small helper model (the sound tokenizer, the position
estimator): resume from the latest checkpoint, draw each step's batch from a generator seeded by the
step (so a resumed run draws what an uninterrupted one would), a progress bar, atomic checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ccvs_core.console import console, progress_bar
from ccvs_core.training.checkpoint import CheckpointManager, load_optimizer, optimizer_tensors
from ccvs_core.weights import load_module

# step(generator) -> the loss of one batch drawn with that generator; called with the model in train mode
StepFunction = Callable[[torch.Generator], torch.Tensor]


def train_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step_loss: StepFunction,
    out: Path,
    *,
    steps: int,
    checkpoint_every: int,
    seed: int,
    description: str,
    progress: bool = True,
    after_step: Callable[[torch.Generator], None] | None = None,
) -> int:
    """Run the optimisation of ``model`` to ``steps`` (resuming from ``out/checkpoints``); returns the
    step reached. ``after_step(generator)`` runs after each update (e.g. dead-code restarts)."""
    checkpoints = CheckpointManager(out / "checkpoints")
    step = 0

    def restore(path: Path) -> None:
        nonlocal step
        parts, state = checkpoints.load(path, required=("model", "optimizer"))
        load_module(model, parts["model"], path / "model.safetensors")
        load_optimizer(optimizer, parts["optimizer"], state["optimizer"], str(path / "optimizer.safetensors"))
        step = state["step"]
        console.print(f"resuming from {path} (step {step})")

    checkpoints.resume(restore)
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task(description, total=steps, completed=step, status="")
        while step < steps:
            model.train()
            draw = torch.Generator().manual_seed(seed * 1_000_003 + step)  # a pure function of the step
            loss = step_loss(draw)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step(draw)
            step += 1
            bar.update(task, advance=1, status=f"loss={float(loss.detach()):.4f}")
            if step % checkpoint_every == 0 or step == steps:
                tensors, info = optimizer_tensors(optimizer)
                checkpoints.save(
                    step, {"model": model.state_dict(), "optimizer": tensors}, {"optimizer": info}
                )
    return step
