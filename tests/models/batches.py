"""Real tensors in the batch formats the data modules produce, for model tests."""

import torch

from lightning_pose.data.heatmaps import generate_heatmaps

FRAME_HEIGHT, FRAME_WIDTH = 200, 240  # original frame size; the model sees resized images


def labeled_batch(
    batch: int, num_keypoints: int, size: int = 128, ds: int = 2, views: int = 1, context: bool = False, seed: int = 0
) -> dict:
    """Labeled batch: random images, keypoints inside the resized image, one unlabeled keypoint."""
    gen = torch.Generator().manual_seed(seed)
    image_shape = (batch,) + ((views,) if views > 1 else ()) + ((5,) if context else ()) + (3, size, size)
    keypoints = torch.rand(batch, views * num_keypoints, 2, generator=gen) * (size - 8) + 4
    keypoints[0, 0] = float("nan")
    heatmaps = generate_heatmaps(keypoints, size, size, (size // 2**ds, size // 2**ds))
    bbox = torch.tensor([0.0, 0.0, FRAME_HEIGHT, FRAME_WIDTH]).repeat(batch, views)
    out = {
        "images": torch.randn(image_shape, generator=gen),
        "keypoints": keypoints.reshape(batch, -1),
        "heatmaps": heatmaps,
        "bbox": bbox,
        "idxs": torch.arange(batch),
    }
    if views == 1:
        out["visibility"] = torch.zeros(batch, 0, dtype=torch.int64)  # no visibility column in the CSV
        return out
    names = [f"view{v}" for v in range(views)]
    out.update({  # as the default collate leaves a multiview dataset's examples without calibration
        "num_views": torch.full((batch,), views),
        "concat_order": [tuple([name] * batch) for name in names],
        "view_names": [tuple([name] * batch) for name in names],
        "keypoints_3d": torch.zeros(batch, 1),
        "intrinsic_matrix": torch.eye(3).repeat(batch, 1, 1, 1),
        "extrinsic_matrix": torch.zeros(batch, 1, 3, 4),
        "distortions": torch.zeros(batch, 1, 5),
    })
    return out


def unlabeled_batch(num_frames: int, size: int = 128, views: int = 1, seed: int = 1) -> dict:
    """Unlabeled video window with a rotation+scale augmentation (one affine per view)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (num_frames,) + ((views,) if views > 1 else ()) + (3, size, size)
    angle = torch.tensor(0.1)
    affine = torch.tensor(
        [[torch.cos(angle) * 1.1, -torch.sin(angle), 3.0], [torch.sin(angle), torch.cos(angle) * 0.9, -2.0]]
    )
    return {
        "frames": torch.randn(shape, generator=gen),
        "transforms": affine.repeat(views, 1, 1) if views > 1 else affine,
        "bbox": torch.tensor([0.0, 0.0, FRAME_HEIGHT, FRAME_WIDTH]).repeat(num_frames, views),
        "is_multiview": views > 1,
    }
