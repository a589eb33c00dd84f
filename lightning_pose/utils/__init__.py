"""Utilities shared by losses, metrics and prediction code (keypoint PCA, ...)."""
