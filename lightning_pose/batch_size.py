"""Training batch size from device memory: ``training.train_batch_size: auto`` and ``training.memory_cap_bytes``.

The search (:func:`largest_fitting_batch`) is a pure function of a ``fits(batch_size) -> bool``
callable. The real ``fits`` runs one forward+backward pass of the model on a batch of real
training samples and compares the memory that step needed (:func:`step_memory_bytes`) with the
limit: the device's memory on a GPU, or ``training.memory_cap_bytes`` when set (on any device).

Memory of a step: on CUDA the peak of ``torch.cuda.max_memory_allocated`` during the step (weights,
gradients, activations, workspaces). On CPU there is no allocator to ask, so it is the bytes of the
distinct tensor storages autograd saves for the backward pass (the activations: the part that grows
with the batch) plus the weights and their gradients. The probe leaves the model as it found it
(weights, BatchNorm statistics, gradients, random-number state).
"""

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import default_collate

from lightning_pose.config.schema_training import AUTO_BATCH_FALLBACK

__all__ = [
    "GPU_MEMORY_FRACTION", "check_memory_cap", "largest_fitting_batch", "probe_batch", "probe_batch_size",
    "resolve_train_batch_size", "step_memory_bytes",
]

logger = logging.getLogger(__name__)

GPU_MEMORY_FRACTION = 0.9  # headroom on a GPU: the unlabeled batch, fragmentation, validation
MAX_DISTINCT_SAMPLES = 8  # real samples loaded for a probe batch (repeated to the batch size)


def largest_fitting_batch(fits: Callable[[int], bool], limit: int, start: int = 1) -> int:
    """The largest of ``start, 2*start, 4*start, ... , limit`` for which ``fits`` is true, trying
    sizes in that order and stopping at the first that does not fit (``limit`` itself is tried
    after the last power below it). 0 when ``start`` does not fit."""
    if limit < 1 or start < 1:
        raise ValueError(f"limit and start must be >= 1, got limit={limit}, start={start}")
    best, size = 0, min(start, limit)
    while True:
        if not fits(size):
            return best
        best = size
        if size >= limit:
            return best
        size = min(size * 2, limit)


def probe_batch(data_module, batch_size: int) -> dict:
    """A training batch of ``batch_size`` built from the first (at most
    :data:`MAX_DISTINCT_SAMPLES`) real samples of the training split, repeated."""
    dataset = data_module.train_dataset
    samples = [dataset[i] for i in range(min(len(dataset), MAX_DISTINCT_SAMPLES))]
    return default_collate([samples[i % len(samples)] for i in range(batch_size)])


def _to_device(batch, device: torch.device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _saved_activation_bytes(model, batch) -> tuple[int, torch.Tensor]:
    """Bytes of the distinct storages autograd saves for backward, weights excluded (counted apart)."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model.evaluate_labeled(batch)
    return sum(storages.values()), loss


def step_memory_bytes(model, batch) -> int:
    """Memory one training step (forward + backward on ``batch``) of ``model`` needs, in bytes,
    measured on the model's device (see the module docstring); gradients are cleared after."""
    device = next(model.parameters()).device
    batch = _to_device(batch, device)
    try:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            model.evaluate_labeled(batch).backward()
            torch.cuda.synchronize(device)
            return int(torch.cuda.max_memory_allocated(device))
        activations, loss = _saved_activation_bytes(model, batch)
        loss.backward()
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        return activations + 2 * weights
    finally:
        model.zero_grad(set_to_none=True)


def _device_limit(device: torch.device, cap: int | None) -> int | None:
    if cap is not None:
        return int(cap)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(GPU_MEMORY_FRACTION * (free + torch.cuda.memory_reserved(device)))
    return None


@contextlib.contextmanager
def _probing(model) -> Iterator[None]:
    """Around measured steps: the model in training mode, its weights, BatchNorm statistics, mode
    and the CPU random-number state as they were afterwards."""
    state = copy.deepcopy(model.state_dict())
    was_training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        model.load_state_dict(state)
        model.train(was_training)


def probe_batch_size(model, data_module, limit_bytes: int, max_batch: int) -> int:
    """The largest per-device batch (doubling from 1, at most ``max_batch``) whose measured step
    fits in ``limit_bytes``, on the model's current device; the model is restored afterwards."""

    def fits(batch_size: int) -> bool:
        try:
            used = step_memory_bytes(model, probe_batch(data_module, batch_size))
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            return False
        logger.info(f"batch-size probe: batch {batch_size} needs {used / 2**20:.1f} MiB "
                    f"(limit {limit_bytes / 2**20:.1f} MiB)")
        return used <= limit_bytes

    with _probing(model):
        return largest_fitting_batch(fits, max_batch)


def resolve_train_batch_size(model, data_module, training_cfg, device: torch.device) -> int:
    """``training.train_batch_size`` as an int (the whole batch over ``num_gpus`` devices): the
    configured int, or for ``auto`` the probe's choice, capped at the training split's size. On
    CPU without ``memory_cap_bytes``: :data:`AUTO_BATCH_FALLBACK`, with a log line."""
    value = training_cfg.train_batch_size
    if value != "auto":
        return int(value)
    limit = _device_limit(device, training_cfg.memory_cap_bytes)
    if limit is None:
        logger.info(f"train_batch_size: auto on {device.type} (no device memory to probe, no "
                    f"training.memory_cap_bytes): using the default {AUTO_BATCH_FALLBACK}")
        return AUTO_BATCH_FALLBACK
    num_gpus = max(int(training_cfg.num_gpus), 1)
    model.to(device)
    per_device = probe_batch_size(model, data_module, limit, math.ceil(len(data_module.train_dataset) / num_gpus))
    if per_device == 0:
        raise torch.OutOfMemoryError(
            f"training.train_batch_size: auto: even a batch of 1 needs more than {limit} bytes of {device.type} memory"
        )
    logger.info(f"train_batch_size: auto chose {per_device * num_gpus} ({per_device} per device, "
                f"limit {limit / 2**20:.1f} MiB on {device.type})")
    return per_device * num_gpus


def check_memory_cap(model, data_module, training_cfg, device: torch.device) -> None:
    """With ``training.memory_cap_bytes`` set, measure one step at the per-device batch size and
    raise ``torch.OutOfMemoryError`` (as the device would) when it needs more than the cap."""
    cap = training_cfg.memory_cap_bytes
    if cap is None:
        return
    per_device = math.ceil(int(training_cfg.train_batch_size) / max(int(training_cfg.num_gpus), 1))
    model.to(device)
    with _probing(model):
        used = step_memory_bytes(model, probe_batch(data_module, per_device))
    if used > cap:
        raise torch.OutOfMemoryError(
            f"training.memory_cap_bytes={cap}: a training step at batch {per_device} per device needs {used} "
            f"bytes of {device.type} memory"
        )
    logger.info(f"memory cap: batch {per_device} needs {used / 2**20:.1f} MiB of {cap / 2**20:.1f} MiB")
