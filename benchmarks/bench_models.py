"""Forward+backward throughput of the four model types (images/s), printed as JSON.

    python benchmarks/bench_models.py                 # CPU (and CUDA when available)
    python benchmarks/bench_models.py --smoke-test    # tiny sizes, a few seconds
    python benchmarks/bench_models.py --device cpu --precision bf16-mixed --channels-last --compile
    python benchmarks/bench_models.py --device cpu --interleave 32 bf16-mixed channels-last --steps 10
    python benchmarks/bench_models.py --device cpu --interleave 32 compile bf16-mixed+channels-last+compile

The speed options are those of ``training.precision`` / ``channels_last`` / ``compile``: bf16-mixed
(16-mixed) runs forward and loss under ``torch.autocast`` in bfloat16 (float16, with a gradient
scaler; CUDA only), as Lightning's precision plugins do; channels_last and compile go through
``lightning_pose.models.performance.apply_speed_options``. ``--model-types`` picks a subset.
``--interleave`` variants are ``32``, a precision, ``channels-last``, ``compile`` or several of them
joined by ``+`` (``bf16-mixed+channels-last``).

Each model is built through ``lightning_pose.models.get_model`` with random weights and trained
for a few optimiser steps on a synthetic batch in the data modules' format. Context models
(``heatmap_mhcrnn``) push 5 frames per image through the backbone; the multiview transformer
sees 2 views per sample and needs a ViT backbone, so it is measured with ``vits_dino``.
Throughput counts labeled samples (images, or multiview samples) per second.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.config import load_config  # noqa: E402
from lightning_pose.losses.factory import get_loss_factories  # noqa: E402
from lightning_pose.models import get_model  # noqa: E402
from lightning_pose.models.performance import apply_speed_options  # noqa: E402
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


AUTOCAST = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def make_step(model_type: str, backbone: str, size: int, batch: int, device: torch.device,
              options: argparse.Namespace):
    """A model with the speed options applied and a function doing one optimiser step on it."""
    model, optimizer = build(model_type, backbone, size, device)
    apply_speed_options(model, channels_last=options.channels_last, compile=options.compile)
    views = 2 if model_type == "heatmap_multiview_transformer" else 1
    data = labeled_batch(batch, NUM_KEYPOINTS, size=size, views=views, context=model_type == "heatmap_mhcrnn")
    data = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in data.items()}
    model.train()
    dtype = AUTOCAST[options.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model.loss_factory(stage=None, **model.get_loss_inputs_labeled(data))[0]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


VARIANT_PARTS = ("32", "bf16-mixed", "channels-last", "compile")


def variant(name: str) -> str:
    """A checked ``--interleave`` variant: options from VARIANT_PARTS joined by ``+``, at most one precision."""
    parts = name.split("+")
    unknown = [part for part in parts if part not in VARIANT_PARTS]
    if unknown or len(set(parts)) != len(parts) or ("32" in parts and "bf16-mixed" in parts):
        raise argparse.ArgumentTypeError(f"{name!r}: join distinct options of {', '.join(VARIANT_PARTS)} with '+'")
    return name


def variant_options(name: str) -> argparse.Namespace:
    """The speed options of a variant: ``bf16-mixed+channels-last+compile`` -> precision, channels_last, compile."""
    parts = name.split("+")
    return argparse.Namespace(precision="bf16-mixed" if "bf16-mixed" in parts else "32",
                              channels_last="channels-last" in parts, compile="compile" in parts)


def interleaved(model_type: str, backbone: str, size: int, batch: int, steps: int, device: torch.device,
                variants: list[str]) -> dict:
    """Steps of several variants (``32``, ``bf16-mixed``, ``channels-last+compile``, ...) taken in
    turn in one process, so that load from other processes hits all alike; median step time per
    variant, and each variant's two warm-up steps (compilation happens there)."""
    steps_of, warm_up = {}, {}
    for name in variants:
        steps_of[name] = make_step(model_type, backbone, size, batch, device, variant_options(name))
        start = time.perf_counter()
        steps_of[name]()
        steps_of[name]()
        warm_up[name] = round(time.perf_counter() - start, 2)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(steps):
        for name, step in steps_of.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {"model_type": model_type, "backbone": backbone, "device": device.type, "image_size": size,
            "batch_size": batch, "steps_each": steps,
            "warm_up_s": warm_up, "images_per_s": {name: round(batch / m, 2) for name, m in medians.items()},
            "speed_up_over_first": {name: round(medians[variants[0]] / m, 3) for name, m in medians.items()}}


def measure(model_type: str, backbone: str, size: int, batch: int, steps: int, device: torch.device,
            options: argparse.Namespace) -> dict:
    step = make_step(model_type, backbone, size, batch, device, options)
    warm_start = time.perf_counter()
    step()  # warm-up (allocations, cuDNN algorithm search, compilation)
    step()
    warm_up = time.perf_counter() - warm_start
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
        "precision": options.precision,
        "channels_last": options.channels_last,
        "compile": options.compile,
        "steps": steps,
        "warm_up_s": round(warm_up, 2),
        "seconds_per_step": round(elapsed / steps, 4),
        "images_per_s": round(batch * steps / elapsed, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="tiny sizes, one backbone")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--precision", choices=list(AUTOCAST), default="32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--model-types", nargs="+", choices=MODEL_TYPES, default=MODEL_TYPES)
    parser.add_argument("--backbones", nargs="+", help="instead of resnet18 + resnet50 (not for the transformer)")
    parser.add_argument("--interleave", nargs="+", type=variant, metavar="VARIANT",
                        help="compare these variants step by step in one process (median step times)")
    parser.add_argument("--size", type=int, help="image side (default 256; 128 with --smoke-test)")
    parser.add_argument("--batch", type=int, help="batch size (default 8; 2 with --smoke-test)")
    args = parser.parse_args(argv)
    size, batch, backbones = (256, 8, ["resnet18", "resnet50"]) if not args.smoke_test else (128, 2, ["resnet18"])
    size, batch, backbones = args.size or size, args.batch or batch, args.backbones or backbones
    steps = 1 if args.smoke_test else args.steps
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    if args.precision == "16-mixed" and any(d.type == "cpu" for d in devices):
        parser.error("--precision 16-mixed needs CUDA (as training.precision); use --device cuda")
    results = []
    for device in devices:
        for model_type in args.model_types:
            names = ["vits_dino"] if model_type == "heatmap_multiview_transformer" else backbones
            for backbone in names:
                if args.interleave:
                    results.append(interleaved(model_type, backbone, size, batch, steps, device, args.interleave))
                else:
                    results.append(measure(model_type, backbone, size, batch, steps, device, args))
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
