"""FSDP2 for the transformer: its parameters, gradients and AdamW state sharded over the processes
(``torch.distributed.fsdp.fully_shard``), and the full states checkpoints need, gathered.

Checkpoints stay what one process writes (full tensors, optimizer state keyed by parameter index,
safetensors + JSON), so a run resumes with any number of processes and either kind of parallelism.
``torch.distributed.checkpoint``'s own format would pickle its metadata, which the toolkit never does.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.tensor import DTensor

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)  # whole tensors, on the main process only


def shard(root: torch.nn.Module, blocks: list[torch.nn.Module], device: torch.device) -> None:
    """Each of ``blocks`` its own FSDP unit (gathered for its forward and backward only), ``root`` the
    outer one, over all processes on ``device``'s kind. On the CPU (gloo) the gradients are summed then
    divided explicitly: FSDP2's averaging reduce-scatter summed on gloo in some torch releases
    (pytorch/pytorch#162338); tests/test_distributed_training.py checks the gradient norm."""
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for block in blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(root, mesh=mesh)
    if device.type == "cpu":
        for module in root.modules():
            if isinstance(module, FSDPModule):
                module.set_force_sum_reduction_for_comms(True)


def full_model_state(root: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The whole state dict of a sharded ``root`` on the main process (empty elsewhere); collective."""
    return get_model_state_dict(root, options=FULL)


def full_optimizer_state(root: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``optimizer.state_dict()`` as one process would have it (keyed by parameter index), on the main
    process (empty elsewhere); collective."""
    named = get_optimizer_state_dict(root, optimizer, options=FULL)
    if not named:
        return {}
    order = [name for group in named["param_groups"] for name in group["params"]]
    index = {name: i for i, name in enumerate(order)}
    return {
        "state": {index[name]: value for name, value in named["state"].items()},
        "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in named["param_groups"]],
    }


def load_optimizer_state(
    root: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Load a one-process ``optimizer.state_dict()`` (the same on every process) into the optimizer
    of a sharded ``root``, whose parameters it lists in the same order; collective."""
    if not state.get("state"):
        return
    names = {id(p): n for n, p in root.named_parameters()}
    order = [names[id(p)] for group in optimizer.param_groups for p in group["params"]]
    named = {
        "state": {order[i]: value for i, value in state["state"].items()},
        "param_groups": [{**g, "params": [order[i] for i in g["params"]]} for g in state["param_groups"]],
    }
    set_optimizer_state_dict(root, optimizer, named, options=StateDictOptions(full_state_dict=True))


def local(value: torch.Tensor) -> torch.Tensor:
    """A plain tensor of a (possibly) distributed one: a gradient norm that FSDP leaves as a DTensor."""
    return value.full_tensor() if isinstance(value, DTensor) else value
