"""Data side of Lightning Pose: labels, heatmap targets, datasets, datamodules, video."""
