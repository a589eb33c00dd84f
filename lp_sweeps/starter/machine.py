"""The machine ``lp-sweep init`` sizes a study for: CPUs, and GPUs with their memory."""

import os
from dataclasses import dataclass

__all__ = ["GpuInfo", "MachineInfo", "inspect_machine"]


@dataclass(frozen=True)
class GpuInfo:
    name: str
    memory_gib: float


@dataclass(frozen=True)
class MachineInfo:
    cpus: int
    gpus: tuple[GpuInfo, ...]

    def describe(self) -> str:
        if not self.gpus:
            return f"{self.cpus} CPUs, no GPU"
        listed = ", ".join(f"{g.name} ({g.memory_gib:.0f} GiB)" for g in self.gpus)
        return f"{self.cpus} CPUs, {len(self.gpus)} GPU(s): {listed}"


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def inspect_machine() -> MachineInfo:
    """CPUs and the CUDA GPUs torch sees (none when CUDA is unavailable)."""
    import torch  # imported here: the CLI's other commands need not pay for it

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(GpuInfo(props.name, props.total_memory / 2**30))
    return MachineInfo(_usable_cpus(), tuple(gpus))
