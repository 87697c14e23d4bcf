#!/usr/bin/env bash
# Both stages on a multi-GPU node (or several), and their throughput against one GPU:
#
#   bash benchmarks/multigpu.sh DATA OUT [GPUS]        # one node, GPUS processes (default 8)
#
# DATA is a dataset in the ccvs format. OUT receives OUT/autoencoder (stage 1), OUT/transformer
# (stage 2) and OUT/throughput.json. Several nodes: run the same torchrun lines on every node with
# the rendezvous of the first, e.g.
#
#   torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint NODE0:29500 \
#       -m ccvs_core.cli train transformer --data DATA --autoencoder OUT/autoencoder/autoencoder ...
#
# or under SLURM (one task per node; torchrun starts the processes of its node):
#
#   #SBATCH --nodes=2 --ntasks-per-node=1 --gpus-per-node=8
#   head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
#   srun torchrun --nnodes "$SLURM_NNODES" --nproc-per-node 8 --rdzv-id "$SLURM_JOB_ID" \
#       --rdzv-backend c10d --rdzv-endpoint "$head:29500" -m ccvs_core.cli train transformer ...
#
# --batch-size is the global batch: the same command trains the same model on any number of GPUs,
# and a run resumes with any number of them. The throughput runs keep 4 samples a GPU (weak
# scaling): scaling efficiency = (samples/s of G GPUs) / (G x that of one) = "vs 1st" / G.
set -euo pipefail
data=${1:?DATA}
out=${2:?OUT}
gpus=${3:-8}
here=$(dirname "$0")
run="torchrun --standalone --nproc-per-node $gpus -m ccvs_core.cli"

# stage 1 at the paper's sizes, 4 clips a GPU
$run train autoencoder --data "$data" --out "$out/autoencoder" --preset paper --batch-size $((4 * gpus))

# stage 2 on its tokens, bfloat16, 16 windows a GPU
$run train transformer --data "$data" --autoencoder "$out/autoencoder/autoencoder" \
    --out "$out/transformer" --preset paper --batch-size $((16 * gpus)) --precision bfloat16

# what one GPU and all of them train a second (samples/s, peak memory), as ratios
python "$here/train_throughput.py" --data "$data" --autoencoder "$out/autoencoder/autoencoder" \
    --device cuda --preset paper --processes "1,$gpus" --batch-size 4 --per-process --precision bfloat16 \
    --out "$out/throughput.json"
