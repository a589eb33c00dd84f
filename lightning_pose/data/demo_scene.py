"""A synthetic moving "mouse" with known keypoints: 3-D pose trajectories and their rendering.

The figure lives on a floor plane (``x``, ``y`` in top-view pixels, ``z`` = height above the floor,
in pixels). Its body centre follows a smooth bounded path (a sum of slow sinusoids with random
periods and phases), its heading sways, the paws follow a trotting gait (diagonal pairs in phase),
the tail swings and the head turns. The pose is therefore smooth in time and close to a
low-dimensional subspace. A view is an orthographic projection of the 3-D points into an image:
``top`` looks straight down, ``bottom`` looks up through the floor at an angle (it sees ``z``).

Rendering uses antialiased OpenCV drawing with sub-pixel coordinates (pixel centres at integer
coordinates, so a keypoint at ``(x, y)`` is drawn centred on pixel column ``x``, row ``y``).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Float, UInt8

__all__ = [
    "KEYPOINT_NAMES",
    "VIEW_NAMES",
    "figure_scale",
    "make_background",
    "project",
    "render_frame",
    "simulate_pose_3d",
]

KEYPOINT_NAMES = (
    "nose",
    "head",
    "tail_base",
    "tail_tip",
    "paw_front_left",
    "paw_front_right",
    "paw_back_left",
    "paw_back_right",
)
VIEW_NAMES = ("top", "bottom")
_BODY = len(KEYPOINT_NAMES)  # index of the (unlabeled) body centre in the simulated points
_BOTTOM_TILT = np.deg2rad(30.0)
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


def figure_scale(height: int, width: int) -> float:
    """Body unit ``s`` in pixels (the figure is about 2.6 s long, nose to tail tip)."""
    return 0.2 * min(height, width)


@dataclass(frozen=True)
class _Motion:
    """Random parameters of one session's motion."""

    heading0: float
    turn_period: float
    turn_phase: float
    gait_period: float
    tail_period: float
    head_period: float
    path_periods: np.ndarray  # (2, 3)
    path_phases: np.ndarray  # (2, 3)
    path_weights: np.ndarray  # (2, 3)


def _draw_motion(rng: np.random.Generator) -> _Motion:
    weights = rng.uniform(0.5, 1.0, size=(2, 3))
    return _Motion(
        heading0=float(rng.uniform(-0.3, 0.3)),
        turn_period=float(rng.uniform(120, 220)),
        turn_phase=float(rng.uniform(0, 2 * np.pi)),
        gait_period=float(rng.uniform(20, 28)),
        tail_period=float(rng.uniform(35, 50)),
        head_period=float(rng.uniform(45, 70)),
        path_periods=rng.uniform(90, 260, size=(2, 3)),
        path_phases=rng.uniform(0, 2 * np.pi, size=(2, 3)),
        path_weights=weights / weights.sum(axis=1, keepdims=True),
    )


def _body_frame_points(t: np.ndarray, m: _Motion, s: float) -> np.ndarray:
    """Points ``(T, 9, 3)`` in the body frame: forward ``u``, lateral ``v`` (left +), height."""
    gait = 2 * np.pi * t / m.gait_period
    tail = 0.5 * np.sin(2 * np.pi * t / m.tail_period)
    yaw = 0.3 * np.sin(2 * np.pi * t / m.head_period)
    pts = np.zeros((len(t), _BODY + 1, 3))
    pts[:, 1] = [0.6 * s, 0.0, 0.3 * s]  # head
    pts[:, 0, 0] = 0.6 * s + 0.4 * s * np.cos(yaw)  # nose turns about the head
    pts[:, 0, 1] = 0.4 * s * np.sin(yaw)
    pts[:, 0, 2] = 0.25 * s
    pts[:, 2] = [-0.7 * s, 0.0, 0.2 * s]  # tail base
    pts[:, 3, 0] = -0.7 * s - 0.9 * s * np.cos(tail)
    pts[:, 3, 1] = 0.9 * s * np.sin(tail)
    pts[:, 3, 2] = 0.05 * s
    paw_u = np.array([0.35, 0.35, -0.4, -0.4]) * s
    paw_v = np.array([0.45, -0.45, 0.48, -0.48]) * s
    phase = np.array([0.0, np.pi, np.pi, 0.0])  # trot: diagonal pairs move together
    swing = gait[:, None] + phase[None, :]
    pts[:, 4:8, 0] = paw_u + 0.15 * s * np.sin(swing)
    pts[:, 4:8, 1] = paw_v
    pts[:, 4:8, 2] = 0.08 * s * np.clip(np.cos(swing), 0.0, None)
    return pts  # body centre (index 8) stays at the origin


def simulate_pose_3d(
    num_frames: int, height: int, width: int, rng: np.random.Generator
) -> Float[np.ndarray, "frames points 3"]:
    """3-D points ``(num_frames, 9, 3)`` (8 keypoints + body centre) whose top view stays inside
    the ``height x width`` frame with a margin."""
    s = figure_scale(height, width)
    m = _draw_motion(rng)
    t = np.arange(num_frames, dtype=np.float64)
    local = _body_frame_points(t, m, s)
    heading = m.heading0 + 0.35 * np.sin(2 * np.pi * t / m.turn_period + m.turn_phase)
    cos, sin = np.cos(heading)[:, None], np.sin(heading)[:, None]
    # image y points down: "left" of a figure facing +x is -y
    dx = cos * local[..., 0] + sin * local[..., 1]
    dy = sin * local[..., 0] - cos * local[..., 1]
    radius = float(np.sqrt(dx**2 + dy**2).max()) + 0.15 * s
    half = np.array([width / 2 - radius, height / 2 - radius])  # > 0: radius < 0.36 min(H, W)
    angles = 2 * np.pi * t[None, None, :] / m.path_periods[..., None] + m.path_phases[..., None]
    waves = np.sin(angles)
    centre = np.array([width / 2, height / 2])[:, None] + half[:, None] * (
        (m.path_weights[..., None] * waves).sum(axis=1)
    )
    out = np.empty_like(local)
    out[..., 0] = centre[0][:, None] + dx
    out[..., 1] = centre[1][:, None] + dy
    out[..., 2] = local[..., 2]
    return out


def project(
    points: Float[np.ndarray, "*batch 3"], view: str, height: int
) -> Float[np.ndarray, "*batch 2"]:
    """Image coordinates of 3-D points in ``view`` (``top``: ``(x, y)``; ``bottom``: seen from
    below at a 30 degree tilt, ``y`` flipped and mixed with the height ``z``)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    if view == "top":
        return np.stack([x, y], axis=-1)
    if view == "bottom":
        c = np.cos(_BOTTOM_TILT)
        v = (height - y) * c + z * np.sin(_BOTTOM_TILT) + 0.5 * height * (1 - c)
        return np.stack([x, v], axis=-1)
    raise ValueError(f"unknown demo view {view!r}; allowed: {list(VIEW_NAMES)}")


def make_background(
    height: int, width: int, rng: np.random.Generator, view: str = "top"
) -> UInt8[np.ndarray, "height width 3"]:
    """A static textured floor: smooth blotches plus fine grain, mid-dark grey-brown (BGR)."""
    coarse = rng.uniform(0.0, 1.0, size=(6, 7)).astype(np.float32)
    blotches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, 6.0, size=(height, width)).astype(np.float32)
    base = 70.0 + 35.0 * blotches + grain
    tint = np.array([0.95, 1.0, 1.08] if view == "top" else [1.08, 1.0, 0.92], dtype=np.float32)
    return np.clip(base[..., None] * tint, 0, 255).astype(np.uint8)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


def _ellipse(
    img: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    half_width: float,
    pad: float,
    color: Sequence[int],
) -> None:
    """Filled ellipse whose long axis runs from ``a`` to ``b`` (extended by ``pad`` each end)."""
    centre = (a + b) / 2
    d = b - a
    half_len = float(np.hypot(d[0], d[1])) / 2 + pad
    angle = float(np.degrees(np.arctan2(d[1], d[0])))
    axes = (int(round(half_len * _ONE)), int(round(half_width * _ONE)))
    cv2.ellipse(img, _pt(centre), axes, angle, 0, 360, color, -1, cv2.LINE_AA, _SHIFT)


def _circle(img: np.ndarray, p: np.ndarray, radius: float, color: Sequence[int]) -> None:
    cv2.circle(img, _pt(p), int(round(radius * _ONE)), color, -1, cv2.LINE_AA, _SHIFT)


def render_frame(
    background: UInt8[np.ndarray, "height width 3"],
    points: Float[np.ndarray, "points 2"],
    scale: float,
    rng: np.random.Generator,
    noise_std: float = 3.0,
) -> UInt8[np.ndarray, "height width 3"]:
    """Draw the figure (BGR) at the projected points ``(9, 2)`` over ``background``, add noise."""
    img = background.copy()
    s = scale
    nose, head, tail_base, tail_tip = points[0], points[1], points[2], points[3]
    mid = (tail_base + tail_tip) / 2
    tail_color = (150, 160, 185)
    for a, b, width in ((tail_base, mid, 0.14 * s), (mid, tail_tip, 0.08 * s)):
        cv2.line(img, _pt(a), _pt(b), tail_color, max(1, round(width)), cv2.LINE_AA, _SHIFT)
    _ellipse(img, tail_base, head, 0.42 * s, 0.05 * s, (205, 205, 210))
    for paw in points[4:8]:
        _circle(img, paw, 0.12 * s, (175, 150, 235))
    _ellipse(img, head, nose, 0.26 * s, 0.12 * s, (225, 225, 230))
    _circle(img, head, 0.09 * s, (95, 95, 115))  # dark cap marks the head keypoint
    _circle(img, nose, 0.1 * s, (160, 120, 255))
    noisy = img.astype(np.float32) + rng.normal(0.0, noise_std, size=img.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)
