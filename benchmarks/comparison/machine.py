"""What a run records about itself and the machine: start, command, load, commit, processor, versions."""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import ROOT


@dataclass
class Run:
    started_at: datetime.datetime
    load_before: str
    clock: float
    command: str

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.clock:6.0f} s] {message}", file=sys.stderr, flush=True)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return f"(uptime failed: {error})"


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def commit_id() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
