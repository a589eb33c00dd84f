"""lp_sweeps.study.labels: run names that say what the trial is."""

from lp_sweeps.study.labels import describe_values, ensemble_name, replicate_name, trial_group, trial_name


def test_trial_names_are_the_number_then_the_values():
    sampled = {"model.model_type": "heatmap", "data.downsample_factor": 2, "losses.temporal.log_weight": 4.1234,
               "training.optimizer_params.learning_rate": 0.00123}
    assert trial_name("abc123", sampled, number=3) == "t03 heatmap ds2 temporal lw4.12 lr1.2e-3"
    assert trial_name("5f3a1_00011", sampled) == "t12 heatmap ds2 temporal lw4.12 lr1.2e-3"  # Ray's index, 1-based
    assert trial_name("abc123", {}) == "abc123"
    assert trial_group("abc123", 7) == "t07" and trial_group("abc123") == "abc123"


def test_losses_are_named_once_and_lists_bools_nulls_are_short():
    sampled = {"losses.temporal.log_weight": 5.0, "losses.temporal.epsilon": [2.5, 10.0, 2.5, 7.0, 1.0],
               "model.losses_to_use": ["pca_singleview", "temporal"], "training.imgaug_hflip": False,
               "model.checkpoint": None}
    assert describe_values(sampled) == "temporal lw5 eps[1,2.5,7,..] pca_singleview+temporal no-imgaug_hflip c-none"
    assert describe_values({"training.train_batch_size": 16, "data.downsample_factor": 3}) == "bs16 ds3"
    assert describe_values({"model.losses_to_use": []}) == "none"


def test_long_names_are_cut_and_replicates_and_ensembles_say_their_seed():
    values = {f"losses.l{i}.log_weight": float(i) for i in range(30)}
    assert len(describe_values(values)) == 80 and describe_values(values).endswith("...")
    assert replicate_name("t03", 2, {"model.model_type": "regression"}) == "t03.s2 regression"
    assert ensemble_name("t03", "eks", 3) == "t03 eks ensemble (3 seeds)"
