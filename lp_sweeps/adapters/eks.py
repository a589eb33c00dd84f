"""The one module that uses the Ensemble Kalman Smoother (``ensemble-kalman-smoother``, an extra:
``pip install 'lp-sweeps[eks]'``).

The package (with JAX) takes seconds to import and is optional, so it is imported when an ensemble
is first fused, not when lp-sweeps is imported; the study loader checks it is installed before a
sweep that asks for ``replicates.ensemble: eks`` starts.
"""

import importlib
import os
from collections.abc import Sequence

import pandas as pd

__all__ = ["EKS_COLUMNS", "smooth_single_view"]

# fields of each keypoint in the smoother's output (pixels; variances in pixels squared)
EKS_COLUMNS = ("x", "y", "likelihood", "x_ens_median", "y_ens_median", "x_ens_var", "y_ens_var",
               "x_posterior_var", "y_posterior_var")


def smooth_single_view(prediction_files: Sequence[str | os.PathLike], keypoint_names: Sequence[str],
                       save_file: str | os.PathLike, confidence_weighted: bool = True) -> pd.DataFrame:
    """Fuse several models' predictions of one video (Lightning Pose CSVs, same frames) with the
    single-camera EKS; the smoothing parameter of each keypoint is fitted. The ensemble variance
    weighs each model by its confidence (``confidence_weighted``; regression models report none:
    plain variance). Writes ``save_file`` and returns its table (columns: keypoint x
    :data:`EKS_COLUMNS`, one row per frame)."""
    if len(prediction_files) < 2:
        raise ValueError(f"an ensemble needs predictions of 2 or more models, got {len(prediction_files)}")
    smoother = importlib.import_module("eks.singlecam_smoother")  # optional and heavy: see the module doc
    table, _, _, _ = smoother.fit_eks_singlecam(
        input_source=[str(f) for f in prediction_files], save_file=str(save_file),
        bodypart_list=list(keypoint_names), var_mode="confidence_weighted_var" if confidence_weighted else "var",
    )
    return table
