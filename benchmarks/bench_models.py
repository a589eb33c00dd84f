"""Forward+backward throughput of the four model types (images/s), printed as JSON.

    python benchmarks/bench_models.py                 # CPU (and CUDA when available)
    python benchmarks/bench_models.py --smoke-test    # tiny sizes, a few seconds

Each model is built through ``lightning_pose.models.get_model`` with random weights and trained
for a few optimiser steps on a synthetic batch in the data modules' format. Context models
(``heatmap_mhcrnn``) push 5 frames per image through the backbone; the multiview transformer
sees 2 views per sample and needs a ViT backbone, so it is measured with ``vits_dino``.
Throughput counts labeled samples (images, or multiview samples) per second.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.config import load_config  # noqa: E402
from lightning_pose.losses.factory import get_loss_factories  # noqa: E402
from lightning_pose.models import get_model  # noqa: E402
from tests.models.batches import labeled_batch  # noqa: E402

MODEL_TYPES = ["regression", "heatmap", "heatmap_mhcrnn", "heatmap_multiview_transformer"]
NUM_KEYPOINTS = 17


def build(model_type: str, backbone: str, size: int, device: torch.device):
    multiview = model_type == "heatmap_multiview_transformer"
    user = {
        "data": {
            "image_resize_dims": {"height": size, "width": size},
            "data_dir": "/unused",
            "num_keypoints": NUM_KEYPOINTS,
            "view_names": ["top", "bottom"] if multiview else None,
            "csv_file": ["top.csv", "bottom.csv"] if multiview else "CollectedData.csv",
        },
        "model": {"model_type": model_type, "backbone": backbone, "backbone_pretrained": False},
    }
    cfg = load_config(OmegaConf.create(user))
    model = get_model(cfg, None, get_loss_factories(cfg, None)).to(device)
    # train the backbone as well (Lightning Pose starts it frozen at lr 0; the cost is the same)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    return model, optimizer


def measure(model_type: str, backbone: str, size: int, batch: int, steps: int, device: torch.device) -> dict:
    model, optimizer = build(model_type, backbone, size, device)
    views = 2 if model_type == "heatmap_multiview_transformer" else 1
    data = labeled_batch(batch, NUM_KEYPOINTS, size=size, views=views, context=model_type == "heatmap_mhcrnn")
    data = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in data.items()}
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss_factory(stage=None, **model.get_loss_inputs_labeled(data))[0]
        loss.backward()
        optimizer.step()

    step()  # warm-up (allocations, cuDNN algorithm search)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {
        "model_type": model_type,
        "backbone": backbone,
        "device": device.type,
        "image_size": size,
        "batch_size": batch,
        "steps": steps,
        "seconds_per_step": round(elapsed / steps, 4),
        "images_per_s": round(batch * steps / elapsed, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="tiny sizes, one backbone")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args(argv)
    size, batch, backbones = (256, 8, ["resnet18", "resnet50"]) if not args.smoke_test else (128, 2, ["resnet18"])
    steps = 1 if args.smoke_test else args.steps
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    results = []
    for device in devices:
        for model_type in MODEL_TYPES:
            names = ["vits_dino"] if model_type == "heatmap_multiview_transformer" else backbones
            for backbone in names:
                results.append(measure(model_type, backbone, size, batch, steps, device))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    report = {
        "benchmark": "bench_models",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "host": platform.node(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
