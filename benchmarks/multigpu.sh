#!/usr/bin/env bash
# Stage 2 on a multi-GPU node (or several), and its throughput against one GPU:
#
#   bash benchmarks/multigpu.sh DATA AUTOENCODER OUT [GPUS]        # one node, GPUS processes (default 8)
#
# DATA is a dataset in the ccvs format, AUTOENCODER a stage-1 export (OUT_OF_STAGE_1/autoencoder).
# Stage 1 (`ccvs train autoencoder`) still trains in one process: run it first, on one GPU.
# Several nodes: run the same torchrun line on every node with the rendezvous of the first, e.g.
#
#   torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint NODE0:29500 \
#       -m ccvs_core.cli train transformer --data DATA --autoencoder AUTOENCODER --out OUT ...
#
# or under SLURM (one task per node; torchrun starts the processes of its node):
#
#   #SBATCH --nodes=2 --ntasks-per-node=1 --gpus-per-node=8
#   head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
#   srun torchrun --nnodes "$SLURM_NNODES" --nproc-per-node 8 --rdzv-id "$SLURM_JOB_ID" \
#       --rdzv-backend c10d --rdzv-endpoint "$head:29500" -m ccvs_core.cli train transformer ...
#
# --batch-size is the global batch: the same command trains the same model on any number of GPUs.
set -euo pipefail
data=${1:?DATA}
autoencoder=${2:?AUTOENCODER}
out=${3:?OUT}
gpus=${4:-8}
here=$(dirname "$0")

# what one GPU and all of them train a second (samples/s, peak memory), as ratios
python "$here/train_throughput.py" --data "$data" --autoencoder "$autoencoder" --device cuda \
    --processes "1,$gpus" --batch-size $((16 * gpus)) --precision bfloat16 --out "$out-throughput.json"

# the run itself, bfloat16, a global batch of 16 windows a GPU
torchrun --standalone --nproc-per-node "$gpus" -m ccvs_core.cli train transformer \
    --data "$data" --autoencoder "$autoencoder" --out "$out" --preset paper \
    --batch-size $((16 * gpus)) --precision bfloat16
