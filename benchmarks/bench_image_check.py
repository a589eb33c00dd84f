"""Cost of checking labeled images before training (decode + labels inside the frame), per 1,000
images: cold (every file decoded) and warm (the per-file cache hit). Prints JSON.

    python benchmarks/bench_image_check.py                # 1,000 PNG frames of 406 x 396 (mirror-mouse size)
    python benchmarks/bench_image_check.py --smoke-test   # 50 frames
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.data.image_check import check_labeled_images  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args(argv)
    count = 50 if args.smoke_test else args.images
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench-images-") as folder:
        root = Path(folder)
        names = []
        for i in range(count):  # textured frames, so PNG decoding does real work
            cv2.imwrite(str(root / f"img{i:05d}.png"), rng.integers(0, 255, (406, 396), dtype=np.uint8))
            names.append(f"img{i:05d}.png")
        keypoints = rng.uniform(5, 390, (count, 17, 2)).astype(np.float32)
        kp_names = [f"k{i}" for i in range(17)]
        timings = {}
        for run in ("cold", "warm"):
            start = time.perf_counter()
            check_labeled_images(root, names, keypoints, kp_names, "CollectedData.csv", cache_file=root / "c.json")
            timings[run] = time.perf_counter() - start
    per_1000 = {run: round(seconds * 1000 / count, 3) for run, seconds in timings.items()}
    print(json.dumps({"benchmark": "bench_image_check", "images": count, "image_size": [406, 396],
                      "seconds_per_1000_images": per_1000}, indent=2))


if __name__ == "__main__":
    main()
