"""ResNet backbones (stride 32): torchvision ImageNet weights and mmpose pose-estimation weights.

==========================  ============================================  =========
name                        pretrained weights                            channels
==========================  ============================================  =========
resnet18, resnet34          torchvision ``IMAGENET1K_V1``                 512
resnet50/101/152            torchvision ``IMAGENET1K_V2``                 2048
resnet50_animal_apose       mmpose SimpleBaseline, AnimalPose 256x256     2048
resnet50_animal_ap10k       mmpose SimpleBaseline, AP-10K 256x256         2048
resnet50_human_jhmdb        mmpose SimpleBaseline, JHMDB sub3 256x256     2048
resnet50_human_res_rle      mmpose DeepPose + RLE, MPII 256x256           2048
resnet50_human_top_res      mmpose SimpleBaseline, MPII 256x256           2048
resnet50_human_hand         mmpose SimpleBaseline, OneHand10K 256x256     2048
==========================  ============================================  =========

The mmpose variants are a torchvision ``resnet50`` whose weights come from the backbone part of
the mmpose checkpoint (keys containing ``backbone``, first dotted component removed, loaded
non-strictly). ``resnet50_animal_ap10k`` is the default backbone of Lightning Pose's default
configuration.
"""

import torchvision.models as tvm
from torch import nn

from lightning_pose.models.backbones.convnet import ConvnetSpec, register_convnet

__all__ = ["MMPOSE_RESNET50_URLS"]

_MMPOSE_ROOT = "https://download.openmmlab.com/mmpose"

MMPOSE_RESNET50_URLS: dict[str, str] = {
    name: f"{_MMPOSE_ROOT}/{path}"
    for name, path in {
        "resnet50_animal_apose": "animal/resnet/res50_animalpose_256x256-e1f30bff_20210426.pth",
        "resnet50_animal_ap10k": "animal/resnet/res50_ap10k_256x256-35760eb8_20211029.pth",
        "resnet50_human_jhmdb": "top_down/resnet/res50_jhmdb_sub3_256x256-c4ec1a0b_20201122.pth",
        "resnet50_human_res_rle": (
            "top_down/deeppose/deeppose_res50_mpii_256x256_rle-5f92a619_20220504.pth"
        ),
        "resnet50_human_top_res": "top_down/resnet/res50_mpii_256x256-418ffc88_20200812.pth",
        "resnet50_human_hand": "hand/resnet/res50_onehand10k_256x256-739c8639_20210330.pth",
    }.items()
}


def _fc_in_features(model: nn.Module) -> int:
    """Channels of a ResNet's last feature map (the classifier's input size)."""
    return model.fc.in_features


_TORCHVISION_RESNETS = (
    ("resnet18", tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1, 512),
    ("resnet34", tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1, 512),
    ("resnet50", tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V2, 2048),
    ("resnet101", tvm.resnet101, tvm.ResNet101_Weights.IMAGENET1K_V2, 2048),
    ("resnet152", tvm.resnet152, tvm.ResNet152_Weights.IMAGENET1K_V2, 2048),
)

for _name, _constructor, _weights, _channels in _TORCHVISION_RESNETS:
    register_convnet(
        ConvnetSpec(_name, _constructor, _weights.url, "torchvision", _channels, _fc_in_features)
    )

for _name, _url in MMPOSE_RESNET50_URLS.items():
    register_convnet(ConvnetSpec(_name, tvm.resnet50, _url, "mmpose", 2048, _fc_in_features))
