"""Can the cluster ever place a trial? Checked when the sweep connects, before any trial starts,
so a trial that asks for more CPUs or GPUs than any node has fails at once, naming the request
and what the cluster has, instead of waiting forever."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from lp_sweeps.study import Resources

__all__ = ["NodeResources", "PlacementError", "describe_nodes", "placement_problem"]


class PlacementError(RuntimeError):
    """No node (or no set of nodes, for data-parallel workers) can hold a trial."""


@dataclass(frozen=True)
class NodeResources:
    address: str
    cpus: float
    gpus: float


def describe_nodes(nodes: Sequence[NodeResources]) -> str:
    if not nodes:
        return "no alive node"
    return "; ".join(f"{n.address}: {n.cpus:g} CPU, {n.gpus:g} GPU" for n in nodes)


def _fits(node: NodeResources, cpus: float, gpus: float) -> int:
    """How many processes of ``cpus`` / ``gpus`` each the node holds."""
    counts = [node.cpus / cpus] if cpus > 0 else []
    if gpus > 0:
        counts.append(node.gpus / gpus)
    return int(min(counts) + 1e-9) if counts else 1_000_000


def _request(resources: Resources) -> str:
    per = "per trial" if resources.workers == 1 else f"per worker, {resources.workers} workers per trial"
    return f"{resources.cpus:g} CPU and {resources.gpus:g} GPU {per} (resources.cpus, resources.gpus)"


def placement_problem(resources: Resources, nodes: Sequence[NodeResources], driver_cpus: float) -> Optional[str]:
    """Why no trial of this study can ever start on these nodes, or None when one can."""
    fitting = [n for n in nodes if _fits(n, resources.cpus, resources.gpus) >= 1]
    if not fitting:
        need = "a GPU" if resources.gpus > 0 and all(n.gpus < resources.gpus for n in nodes) else "enough resources"
        return (f"a trial asks for {_request(resources)}, but no node of the cluster has {need}; "
                f"the cluster has {describe_nodes(nodes)}")
    if resources.workers > 1:
        slots = sum(_fits(n, resources.cpus, resources.gpus) for n in nodes)
        spare = sum(n.cpus for n in nodes) - resources.workers * resources.cpus
        if slots < resources.workers or spare < driver_cpus - 1e-9:
            return (f"a trial asks for {_request(resources)} plus a {driver_cpus:g}-CPU driver, but the cluster "
                    f"holds only {slots} such workers ({describe_nodes(nodes)})")
    return None
