"""Run by test_distributed_batch.py under ``torchrun --nproc-per-node=2``: checks the batch split's
order and gradients, and the weight check, between two gloo processes; prints "ok" on success."""

import torch
import torch.distributed as dist

from ccvs_core import distributed

with distributed.process_group("cpu"):
    rank = distributed.rank()
    # the global batch 0..5 (3 items of 2 rows each, per process): process r holds items r, r + 2, r + 4
    items = torch.arange(12.0).view(6, 2)  # item i's rows are 2i, 2i + 1
    mine = torch.cat([items[i] for i in range(rank, 6, 2)]).requires_grad_(True)
    split = distributed.StridedBatch(3)
    whole = split.gather(mine)
    assert torch.equal(whole, torch.arange(12.0)), whole
    assert torch.equal(split.mine(whole), mine.detach())
    (whole * torch.arange(12.0)).sum().backward()  # every process's loss reaches every row
    assert torch.equal(mine.grad, 2 * mine.detach()), mine.grad
    torch.manual_seed(0)
    module = torch.nn.Linear(2, 2)
    torch.nn.init.zeros_(module.weight)
    distributed.check_in_step(module, "probe")  # equal: goes on
    if rank == 1:
        with torch.no_grad():
            module.weight[0, 0] = 1e-7
    try:
        distributed.check_in_step(module, "probe")
    except RuntimeError as error:
        assert "the processes' probe weights differ (processes [1] from process 0)" in str(error), error
    else:
        raise AssertionError("differing weights went unnoticed")
    dist.barrier()
    print(f"ok {rank}")
