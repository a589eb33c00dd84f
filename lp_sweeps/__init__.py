"""lp-sweeps: hyper-parameter sweeps of Lightning Pose models on Ray Tune, Optuna and MLflow.

A sweep flows study -> search space -> trial -> config -> tracker -> tracking:
:mod:`lp_sweeps.study` reads and checks a study file; :mod:`lp_sweeps.search` holds the searcher and
scheduler registries and the grid rule; :mod:`lp_sweeps.trial` runs one trial (its config from
:mod:`lp_sweeps.study.compose`, training through :mod:`lightning_pose.train`); :mod:`lp_sweeps.tracking`
records it in MLflow; :mod:`lp_sweeps.adapters` are the only modules that import Ray, Optuna and
pyarrow; :mod:`lp_sweeps.sweep` is the driver behind the ``lp-sweep`` command (:mod:`lp_sweeps.cli`).
"""
