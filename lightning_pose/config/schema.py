"""The structured schema of a Lightning Pose ``config.yaml``.

One dataclass per group (``data``, ``training``, ``model``, ``dali``, ``losses``, ``eval``,
``callbacks``) under :class:`LightningPoseConfig`, registered with Hydra's ``ConfigStore`` as
``lightning_pose_config``. ``OmegaConf.structured(LightningPoseConfig)`` gives the defaults; a
user's file is merged on top of it by :func:`lightning_pose.config.load_config`, so unknown keys
and wrongly typed values are rejected when the file is loaded.

Placeholder values of LP's template (``/replace/with/your/path``, ``null`` resize dims) are
``None`` here; :func:`lightning_pose.config.validate_config` says which ones must be set.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore

from lightning_pose.config.schema_training import TrainingConfig

__all__ = [
    "AnnealWeightConfig",
    "CallbacksConfig",
    "CONFIG_NAME",
    "DaliConfig",
    "DataConfig",
    "EvalConfig",
    "ImageDims",
    "LightningPoseConfig",
    "LossesConfig",
    "ModelConfig",
    "PcaLossParams",
    "SupervisedLossParams",
    "TemporalLossParams",
    "TrainingConfig",
]

CONFIG_NAME = "lightning_pose_config"



@dataclass
class ImageDims:
    height: Optional[int] = None
    width: Optional[int] = None


@dataclass
class DataConfig:
    image_resize_dims: ImageDims = field(default_factory=ImageDims)
    # accepted for old configs; not used
    image_orig_dims: ImageDims = field(default_factory=ImageDims)
    data_dir: Optional[str] = None
    video_dir: Optional[str] = None
    # one file name (single view) or one per view (multiview)
    csv_file: Any = "CollectedData.csv"
    downsample_factor: int = 2
    num_keypoints: Optional[int] = None
    keypoint_names: Optional[List[str]] = None
    # list of lists of keypoint indices (one list per view), or one flat list for multiview data
    mirrored_column_matches: Any = None
    columns_for_singleview_pca: Optional[List[int]] = None
    view_names: Optional[List[str]] = None
    # one file name or one per view
    bbox_file: Any = None
    camera_params_file: Optional[str] = None
    # project-layout keys of LP's multiview template (read by the LP app)
    unsup_sessions_list: Optional[str] = None
    label_file_key: Optional[str] = None
    use_bboxes: bool = False
    session_bbox_file: Optional[str] = None
    session_calibration_file: Optional[str] = None


@dataclass
class ModelConfig:
    # unsupervised losses; [] or None: fully supervised
    losses_to_use: Optional[List[str]] = field(default_factory=list)
    backbone: str = "resnet50_animal_ap10k"
    model_type: str = "heatmap"
    heatmap_loss_type: str = "mse"
    model_name: str = "test"
    checkpoint: Optional[str] = None
    # false: load only the checkpoint keys that match the model, and report the skipped ones
    checkpoint_strict: bool = True
    # torch files (checkpoint, backbone weights) that need arbitrary unpickling are refused unless
    # this is true (loading them runs code stored in the file); not an LP key
    allow_unsafe_checkpoints: bool = False
    backbone_pretrained: bool = True
    backbone_checkpoint: Optional[str] = None
    head: str = "heatmap_cnn"
    # written by the training pipeline
    lightning_pose_version: Optional[str] = None


@dataclass
class DaliGeneral:
    seed: int = 123456


@dataclass
class SequenceLength:
    sequence_length: int


@dataclass
class ContextTrain:
    batch_size: int = 16


@dataclass
class DaliBase:
    train: SequenceLength = field(default_factory=lambda: SequenceLength(32))
    predict: SequenceLength = field(default_factory=lambda: SequenceLength(96))


@dataclass
class DaliContext:
    train: ContextTrain = field(default_factory=ContextTrain)
    predict: SequenceLength = field(default_factory=lambda: SequenceLength(96))


@dataclass
class DaliConfig:
    general: DaliGeneral = field(default_factory=DaliGeneral)
    base: DaliBase = field(default_factory=DaliBase)
    context: DaliContext = field(default_factory=DaliContext)


@dataclass
class PcaLossParams:
    log_weight: float = 11.0
    # int: number of components; float in (0, 1]: fraction of explained variance
    components_to_keep: Any = 0.99
    epsilon: Optional[float] = None
    empirical_epsilon_percentile: float = 99.0
    empirical_epsilon_multiplier: float = 1.0
    # None | "mean" | "median" (single-view PCA only)
    centering_method: Optional[str] = None


@dataclass
class TemporalLossParams:
    log_weight: float = 11.0
    # one float, or one float per keypoint
    epsilon: Any = 20.0
    prob_threshold: float = 0.05


@dataclass
class SupervisedLossParams:
    # None: the loss is off
    log_weight: Optional[float] = None


@dataclass
class LossesConfig:
    pca_multiview: PcaLossParams = field(
        default_factory=lambda: PcaLossParams(components_to_keep=3)
    )
    pca_singleview: PcaLossParams = field(default_factory=PcaLossParams)
    temporal: TemporalLossParams = field(default_factory=TemporalLossParams)
    # the two entries below are absent from LP's template; defaults are the loss classes' own
    temporal_heatmap_mse: TemporalLossParams = field(
        default_factory=lambda: TemporalLossParams(log_weight=0.0, epsilon=0.0, prob_threshold=0.0)
    )
    temporal_heatmap_kl: TemporalLossParams = field(
        default_factory=lambda: TemporalLossParams(log_weight=0.0, epsilon=0.0, prob_threshold=0.0)
    )
    supervised_pairwise_projections: SupervisedLossParams = field(
        default_factory=SupervisedLossParams
    )
    supervised_reprojection_heatmap_mse: SupervisedLossParams = field(
        default_factory=SupervisedLossParams
    )


@dataclass
class FiftyOneConfig:
    dataset_name: str = "test"
    model_display_names: List[str] = field(default_factory=lambda: ["test_model"])
    launch_app_from_script: bool = False
    remote: bool = True
    address: str = "127.0.0.1"
    port: int = 5151


@dataclass
class EvalConfig:
    predict_vids_after_training: bool = True
    test_videos_directory: Optional[str] = "${data.video_dir}"
    save_vids_after_training: bool = False
    colormap: str = "cool"
    confidence_thresh_for_vid: float = 0.9
    hydra_paths: Optional[List[str]] = None
    fiftyone: FiftyOneConfig = field(default_factory=FiftyOneConfig)


@dataclass
class AnnealWeightConfig:
    attr_name: str = "total_unsupervised_importance"
    init_val: float = 0.0
    increase_factor: float = 0.01
    final_val: float = 1.0
    freeze_until_epoch: int = 60


@dataclass
class CallbacksConfig:
    anneal_weight: AnnealWeightConfig = field(default_factory=AnnealWeightConfig)


@dataclass
class LightningPoseConfig:
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    dali: DaliConfig = field(default_factory=DaliConfig)
    losses: LossesConfig = field(default_factory=LossesConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    # written by the training pipeline (ISO time stamp)
    creation_datetime: Optional[str] = None


ConfigStore.instance().store(name=CONFIG_NAME, node=LightningPoseConfig)
