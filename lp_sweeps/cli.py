"""``lp-sweep``: launch, resume and inspect hyper-parameter sweeps of Lightning Pose models.

    lp-sweep launch STUDY.yaml [key=value ...] [--dry-run] [--tracking-uri URI] [--address ADDR]
                    [--storage-path DIR_OR_URI] [--tracking-timeout S]
                    [--warm-start SWEEP]
    lp-sweep resume SWEEP
    lp-sweep sync SWEEP
    lp-sweep status [SWEEP]
    lp-sweep best SWEEP [--output best_config.yaml]
    lp-sweep report SWEEP [--output report.html] [--objective METRIC ...]
    lp-sweep ui [--port 5000] [--host 127.0.0.1]
    lp-sweep init DATA_DIR [--output STUDY.yaml] [--force]

Everything goes to a project folder (``--project-dir``, default ``./lp_sweeps_runs``): a SQLite
MLflow store with its artifacts, the Ray results, the demo data and a decoded-video cache.
``launch``, ``resume`` and ``sync`` exit with :class:`lp_sweeps.sweep.ExitCode`.
"""

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from lightning_pose.config import ConfigError
from lp_sweeps import sweep
from lp_sweeps.starter import STUDY_FILE, init_project
from lp_sweeps.study import StudyError, load_study
from lp_sweeps.sweep import ExitCode, PlacementError
from lp_sweeps.tracking import default_tracking_uri, experiment_runs_url, start_ui, stop_ui, wait_until_healthy

__all__ = ["main"]


EXIT_CODES = "exit codes of launch, resume and sync: " + ", ".join(
    f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lp-sweep", description="Hyper-parameter sweeps of Lightning Pose models.",
                                     epilog=EXIT_CODES)
    parser.add_argument("--project-dir", default=sweep.DEFAULT_PROJECT_DIR, help="where sweeps are kept (default %(default)s)")
    # --project-dir is also accepted after the subcommand (the printed commands put it there)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project-dir", default=argparse.SUPPRESS, help="where sweeps are kept")
    timeout = argparse.ArgumentParser(add_help=False)
    timeout.add_argument("--tracking-timeout", type=float, default=sweep.TRACKING_TIMEOUT_S,
                         help="seconds a trial's end and the end-of-sweep bookkeeping wait for an unreachable "
                         "tracking server; what is not delivered by then stays in the spool (default %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    launch = sub.add_parser("launch", help="run a study", parents=[common, timeout])
    launch.add_argument("study", help="study YAML file (see search_spaces/)")
    launch.add_argument("overrides", nargs="*", help="key=value: budget.num_samples=4, training.train_batch_size=4, ...")
    launch.add_argument("--dry-run", action="store_true", help="print trials, resources and two example configs")
    launch.add_argument("--tracking-uri", help="MLflow tracking URI (default: SQLite in the project folder)")
    launch.add_argument("--address", help="address of a running Ray cluster (default $RAY_ADDRESS, else a local Ray)")
    launch.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    launch.add_argument("--storage-path", help="trial results and checkpoints: a folder every Ray node mounts, or "
                        "a URI such as s3://bucket/prefix (default: PROJECT_DIR/ray_results)")
    launch.add_argument("--warm-start", metavar="SWEEP", help="start the searcher from the finished trials of an "
                        "earlier sweep of the project (they are not trained again)")
    resume = sub.add_parser("resume", parents=[common, timeout], help="continue an interrupted sweep")
    resume.add_argument("sweep")
    resume.add_argument("--address")
    resume.add_argument("--num-cpus", type=int)
    sync = sub.add_parser("sync", parents=[common, timeout],
                          help="finish the MLflow bookkeeping of a sweep whose tracking server was unreachable at its end")
    sync.add_argument("sweep")
    status = sub.add_parser("status", parents=[common], help="list sweeps, or the trials of one")
    status.add_argument("sweep", nargs="?")
    best = sub.add_parser("best", parents=[common], help="print the best trial and write its config")
    best.add_argument("sweep")
    best.add_argument("--output", default="best_config.yaml")
    report = sub.add_parser("report", parents=[common], help="write a sweep's HTML report")
    report.add_argument("sweep")
    report.add_argument("--output", help="the HTML file (default: PROJECT_DIR/sweeps/SWEEP/report.html)")
    report.add_argument("--objective", action="append", default=[], metavar="METRIC",
                        help="a metric to compare; give two or more for a Pareto front (default: the study's)")
    ui = sub.add_parser("ui", parents=[common], help="start the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s: this machine only)")
    ui.add_argument("--tracking-uri")
    init = sub.add_parser("init", parents=[common], help="write config.yaml (if missing) and a starter study for a "
                          "Lightning Pose project, dry-run it and print the launch command")
    init.add_argument("data_dir", help="the project folder (label CSVs, labeled-data/, videos/)")
    init.add_argument("--output", help=f"the study file (default DATA_DIR/{STUDY_FILE})")
    init.add_argument("--force", action="store_true", help="replace an existing study file (config.yaml never is)")
    return parser


def _dry_run(study_file: str | os.PathLike, overrides: Sequence[str], project_dir: str | os.PathLike) -> None:
    """What ``lp-sweep launch --dry-run`` does: check the study, print trials and example configs."""
    study = load_study(study_file, overrides)
    demo_dir = sweep.demo_folder(study, Path(project_dir).resolve())
    sweep.dry_run(study, demo_dir)


def _launch(args: argparse.Namespace) -> int:
    if args.dry_run:
        _dry_run(args.study, args.overrides, args.project_dir)
        return 0
    record = sweep.launch(args.study, args.overrides, args.project_dir, args.tracking_uri, args.address,
                          args.num_cpus, storage_path=args.storage_path, tracking_timeout_s=args.tracking_timeout,
                          warm_start=args.warm_start)
    return int(record.exit_code())


def _status(args: argparse.Namespace) -> int:
    rows = sweep.status(args.project_dir, args.sweep)
    if not rows:
        print(f"no sweeps in {Path(args.project_dir).resolve()}")
    for row in rows:
        if args.sweep is None:
            best = row["best"] or {}
            value = f"{best['metric']}={best['value']:.4f} (trial {best['trial_id']})" if best else "-"
            print(f"{row['sweep']:40s} {row['state']:9s} {row['created']}  best {value}")
        else:
            metrics = {k: round(v, 4) for k, v in row["metrics"].items() if k.startswith("val_")}
            print(f"{row['trial_id']:24s} {row['status']:9s} {metrics}")
    return 0


def _best(args: argparse.Namespace) -> int:
    best, path = sweep.best(args.sweep, args.project_dir, args.output)
    print(f"best trial {best['trial_id']}: {best['metric']} = {best['value']:.4f}")
    if best.get("pareto_front") is not None:
        print(f"Pareto front of {best['metrics']} ({len(best['pareto_front'])} trials):")
        print("\n".join(f"  {line}" for line in sweep.format_front(best["pareto_front"], best["metrics"])))
    print(f"config written to {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    path = sweep.report(args.sweep, args.project_dir, args.output, args.objective)
    print(f"report written to {path}")
    return 0


def _ui(args: argparse.Namespace) -> int:
    project = Path(args.project_dir).resolve()
    uri = args.tracking_uri or default_tracking_uri(project)
    process = start_ui(uri, project / "mlartifacts", host=args.host, port=args.port)
    # SIGTERM (e.g. a job scheduler) stops the server too, like Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        base = f"http://{local}:{args.port}"
        wait_until_healthy(base, timeout=120, process=process)
        print(f"MLflow UI ready at {base} (Ctrl-C to stop)")
        for sweep_name, experiment_id in sweep.experiments(project):
            print(f"  runs of {sweep_name}: {experiment_runs_url(base, experiment_id)}", flush=True)
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_ui(process)
    return 0


def _init(args: argparse.Namespace) -> int:
    custom = args.project_dir if args.project_dir != sweep.DEFAULT_PROJECT_DIR else None
    result = init_project(args.data_dir, args.output, args.force, project_dir=custom)
    print("--- dry run of the study (lp-sweep launch --dry-run)")
    _dry_run(result.study_path, [], args.project_dir)
    print(f"--- launch it with:\n{result.command}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    record = sweep.resume(args.sweep, args.project_dir, args.address, args.num_cpus,
                          tracking_timeout_s=args.tracking_timeout)
    return int(record.exit_code())


def _sync(args: argparse.Namespace) -> int:
    return int(sweep.sync(args.sweep, args.project_dir, tracking_timeout_s=args.tracking_timeout).exit_code())


COMMANDS = {"launch": _launch, "resume": _resume, "sync": _sync, "status": _status, "best": _best, "report": _report,
            "ui": _ui, "init": _init}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PlacementError as err:
        print(f"lp-sweep {args.command}: error: {err}", file=sys.stderr)
        return int(ExitCode.NO_RESOURCES)
    except (StudyError, ConfigError, FileNotFoundError, ValueError) as err:
        print(f"lp-sweep {args.command}: error: {err}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        print(f"lp-sweep {args.command}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
