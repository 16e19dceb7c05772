#!/usr/bin/env bash
# cnnzoo on a Cloud TPU VM pod: create it (or reuse it), copy this checkout
# to every worker, install, and run the same command on all of them; JAX
# finds its peers through the TPU runtime.
#
#   launch/tpu_pod.sh NAME ZONE TYPE [--dry_run] [cnnzoo.main flags...]
#   launch/tpu_pod.sh my-pod us-central2-b v4-32 --config configs/resnet50_imagenet.py \
#       --config.dataset.data_dir=/mnt/shared/tensorflow_datasets --workdir /mnt/shared/runs/r50
#
# Every worker must see the same workdir (all of them write checkpoints):
# mount a shared file system (Filestore, NFS) at the same path on each.
# TPU_VERSION picks the VM image (default tpu-ubuntu2204-base). Re-running
# the same command resumes from the latest checkpoint.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: launch/tpu_pod.sh NAME ZONE TYPE [--dry_run] [cnnzoo.main flags...]" >&2
  exit 2
fi
name=$1 zone=$2 type=$3
shift 3
dry_run=0
if [[ "${1:-}" == "--dry_run" ]]; then
  dry_run=1
  shift
fi
version=${TPU_VERSION:-tpu-ubuntu2204-base}
tpu=(gcloud compute tpus tpu-vm)
train_flags=$(printf '%q ' "$@")

run() {
  if ((dry_run)); then
    printf '%q ' "$@"
    echo
  else
    "$@"
  fi
}

if ((dry_run)) || ! "${tpu[@]}" describe "${name}" --zone="${zone}" > /dev/null 2>&1; then
  run "${tpu[@]}" create "${name}" --zone="${zone}" \
      --accelerator-type="${type}" --version="${version}"
fi
run "${tpu[@]}" scp --recurse --zone="${zone}" --worker=all . "${name}:~/cnnzoo"
run "${tpu[@]}" ssh "${name}" --zone="${zone}" --worker=all \
    --command="cd ~/cnnzoo && pip install -q -e . 'jax[tpu]'"
run "${tpu[@]}" ssh "${name}" --zone="${zone}" --worker=all \
    --command="cd ~/cnnzoo && python -m cnnzoo.main --multihost ${train_flags}"
