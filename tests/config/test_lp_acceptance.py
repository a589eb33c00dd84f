"""Configs compared with Lightning Pose 2.4.3 (benchmarks/compare_config_checks.py measures LP's
verdicts with its reference venv): every variant LP accepts is accepted here, except those
docs/differences.md lists as refused because LP would train silently wrong."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from compare_config_checks import VARIANTS, _ours, _variant  # noqa: E402

# what LP 2.4.3 did with each variant (measured with compare_config_checks.py)
LP_ACCEPTS = {
    "as is", "an extra key of the user's own", "a misspelt key", "negative temporal epsilon",
    "probability threshold above 1", "learning rate 0", "negative learning rate", "max_epochs 0",
    "infinite loss weight", "negative anneal final value", "negative PCA column", "negative milestone",
    "negative seed", "negative DALI seed", "downsample factor 4", "temporal loss without video_dir",
    "anneal attr_name other than the default",
}
REFUSED_ON_PURPOSE = {  # variant -> the words of our message, listed in docs/differences.md
    "an extra key of the user's own": "unknown key 'my_notes'",
    "a misspelt key": "unknown key 'max_epoch'",
    "negative temporal epsilon": "losses.temporal.epsilon: must be >= 0",
    "probability threshold above 1": "losses.temporal.prob_threshold: must be in [0, 1]",
    "learning rate 0": "learning_rate: must be > 0",
    "negative learning rate": "learning_rate: must be > 0",
    "max_epochs 0": "training.max_epochs: must be >= 1",
    "infinite loss weight": "log_weight: must be a finite number",
    "negative anneal final value": "final_val: must be >= 0",
    "negative PCA column": "columns_for_singleview_pca[2]: must be >= 0",
    "negative milestone": "milestones[0]: must be >= 0",
    "downsample factor 4": "data.downsample_factor: must be in [1, 3]",
    "temporal loss without video_dir": "data.video_dir: must be set",
}


# LP refuses it (its data loader fails on batch_size "16"); read as the number here
LENIENT = {"a string where a number belongs"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_we_accept_what_lightning_pose_accepts_unless_documented(name, mirror_mouse_dir):
    verdict = _ours(_variant(VARIANTS[name]))
    if name in REFUSED_ON_PURPOSE:
        assert REFUSED_ON_PURPOSE[name] in verdict, verdict
    elif name in LP_ACCEPTS or name in LENIENT:
        assert verdict == "accepted", verdict
    else:  # LP refuses it too
        assert verdict != "accepted"


def test_every_refusal_of_an_lp_accepted_config_is_documented():
    differences = (REPO / "docs" / "differences.md").read_text()
    assert set(REFUSED_ON_PURPOSE) <= LP_ACCEPTS
    for words in REFUSED_ON_PURPOSE.values():
        assert words.split(": ")[-1].split("'")[0] in differences
