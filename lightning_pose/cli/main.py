"""``litpose``: train, predict, convert other tools' labeled data and make demo data.

    litpose train CONFIG.yaml [--output_dir DIR] [key=value ...]
    litpose predict MODEL_DIR VIDEO_OR_DIR_OR_CSV [...] [--overrides key=value ...]
    litpose convert DLC_PROJECT_DIR|LABELS.pkg.slp --lp_dir DIR [--overwrite]
    litpose demo-data OUT_DIR [--two-views]
"""

import argparse
import datetime
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from lightning_pose.config import ConfigError, load_config, validate_config
from lightning_pose.data import demo
from lightning_pose.data.convert import CONVERTERS, ConversionError, convert_dataset
from lightning_pose.predict import predict_inputs
from lightning_pose.train import check_precision, device_settings, train

__all__ = ["main"]


def _source_name(config_path: Path, overrides: Sequence[str]) -> str:
    return f"{config_path} with overrides {list(overrides)}" if overrides else str(config_path)


def _train(args: argparse.Namespace) -> int:
    config_path = Path(args.config)
    if config_path.suffix not in (".yaml", ".yml") or not config_path.is_file():
        raise SystemExit(f"litpose train: config file not found or not a .yaml file: {config_path}")
    cfg = load_config(config_path, overrides=list(args.overrides))
    try:
        validate_config(cfg)  # before anything is written; the message names the user's file
        check_precision(cfg.training, device_settings(cfg.training))
    except ConfigError as err:
        raise ConfigError(err.key, err.detail, err.source or _source_name(config_path, args.overrides)) from None
    stamp = datetime.datetime.now().strftime("%Y-%m-%d/%H-%M-%S")
    output_dir = Path(args.output_dir or Path("outputs") / stamp)
    result = train(cfg, model_dir=output_dir, base_dir=config_path.resolve().parent)
    print(f"model directory: {result.model_dir}")
    print(f"best checkpoint: {result.best_checkpoint}")
    error = result.metrics.get("val_pixel_error")
    if error is not None:
        print(f"validation pixel error: {error:.3f}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    for path in predict_inputs(args.model_dir, args.inputs, overrides=list(args.overrides)):
        print(path)
    return 0


def _convert(args: argparse.Namespace) -> int:
    result = convert_dataset(args.dataset_path, args.lp_dir, overwrite=args.overwrite)
    print(
        f"converted {result.format} labels: {result.num_frames} labeled frames, "
        f"{len(result.keypoint_names)} keypoints -> {result.lp_dir}"
    )
    print(f"train with: litpose train {result.config_path}")
    return 0


def _add_convert_parser(sub: argparse._SubParsersAction) -> None:
    formats = "; ".join(f"{name}: {CONVERTERS.get(name).description}" for name in CONVERTERS)
    convert = sub.add_parser(
        "convert",
        help="turn a DeepLabCut project or a SLEAP .pkg.slp package into a Lightning Pose project",
        description=f"Write a Lightning Pose project (CollectedData.csv, labeled-data/, videos/, "
        f"config.yaml) from a labeled dataset of another tool. Accepted: {formats}.",
    )
    convert.add_argument("dataset_path", help="a DeepLabCut project folder or a SLEAP .pkg.slp file")
    convert.add_argument(
        "--lp_dir", "--lp-dir", required=True, help="new Lightning Pose project folder (new or empty)"
    )
    convert.add_argument(
        "--overwrite", action="store_true",
        help="replace config.yaml, CollectedData.csv, labeled-data/ and videos/ of a non-empty "
        "--lp_dir (other files there are kept)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litpose", description="Lightning Pose: train and run pose trackers.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model from a Lightning Pose config.yaml")
    train.add_argument("config", help="path to config.yaml")
    train.add_argument("overrides", nargs="*", help="key=value config overrides (dotted keys)")
    train.add_argument("--output_dir", "--output-dir", help="model directory (default outputs/DATE/TIME)")
    predict = sub.add_parser("predict", help="predict videos (.mp4), a folder of videos, or a label CSV")
    predict.add_argument("model_dir")
    predict.add_argument("inputs", nargs="+")
    predict.add_argument("--overrides", nargs="*", default=[], help="key=value config overrides")
    _add_convert_parser(sub)
    sub.add_parser("demo-data", help="write a small synthetic project", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "demo-data":
        return demo.main(argv[1:])
    args = _parser().parse_args(argv)
    commands = {"train": _train, "predict": _predict, "convert": _convert}
    try:
        return commands[args.command](args)
    except (ConfigError, ConversionError, FileNotFoundError, ValueError) as err:
        print(f"litpose {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
