"""Where a model's ImageNet weights come from, whether they are here, and how to fetch them.

Three places are looked at, in order: a folder named by ``--weights-dir`` / ``EXPLAINERS_WEIGHTS_DIR``
(for machines where the ``.h5`` files were copied by hand), then Keras's own cache
(``$KERAS_HOME/models``, default ``~/.keras/models``). If neither has the file, Keras's own
``weights="imagenet"`` download runs, which stores it in that cache for next time. No TensorFlow import
at module level: the status of the weights can be read by a process that never loads a model.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from explainers.errors import WeightsError

WEIGHTS_DIR_ENV = "EXPLAINERS_WEIGHTS_DIR"
OFFLINE_ENV = "EXPLAINERS_OFFLINE"  # "1": never try to download; say what is missing at once


@dataclass(frozen=True)
class WeightsFile:
    """One Keras ImageNet weights file (the same name, address and checksum Keras itself uses)."""

    model: str
    filename: str
    url: str
    md5: str
    size_mb: int

    def fetch_command(self) -> str:
        return f"python -m explainers fetch-weights --model {self.model}"


_KERAS_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"

IMAGENET_WEIGHTS: dict[str, WeightsFile] = {
    "vgg16": WeightsFile(
        "vgg16",
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        _KERAS_BASE + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
        528,
    ),
    "resnet50": WeightsFile(
        "resnet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        _KERAS_BASE + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "2cb95161c43110f7111970584f804107",
        98,
    ),
    "inception_v3": WeightsFile(
        "inception_v3",
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        _KERAS_BASE + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        "9a0d58056eeedaa3f26cb7ebd46da564",
        92,
    ),
}


def keras_cache_dir() -> Path:
    """Keras's download cache for weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def search_dirs(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for a weights file, in order."""
    dirs: list[Path] = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    for part in os.environ.get(WEIGHTS_DIR_ENV, "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()).expanduser())
    dirs.append(keras_cache_dir())
    return dirs


def find_local(model: str, weights_dir: str | os.PathLike | None = None) -> Path | None:
    """The path of ``model``'s ImageNet weights file on this machine, or None."""
    spec = IMAGENET_WEIGHTS[model]
    for folder in search_dirs(weights_dir):
        candidate = folder / spec.filename
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    return None


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def can_reach_download_server(timeout: float = 1.5) -> bool:
    """Whether the weights server answers a TCP connection (a quick check; it downloads nothing)."""
    if offline():
        return False
    host = urlparse(_KERAS_BASE).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class WeightsStatus:
    model: str
    state: str  # "ready" | "download" | "missing"
    path: Path | None
    message: str


def status(model: str, weights_dir: str | os.PathLike | None = None, probe: bool = False) -> WeightsStatus:
    """Whether ``model``'s ImageNet weights are ready, will download on first use, or are missing.

    With ``probe=False`` nothing touches the network, so "download" means "not here yet; will be fetched
    on first use if there is internet". With ``probe=True`` a failed connection turns it into "missing".
    """
    if model not in IMAGENET_WEIGHTS:  # the demo models' weights ship with the code
        from explainers.clever_hans import shipped_weights

        path = shipped_weights(model)
        if path.is_file():
            return WeightsStatus(model, "ready", path, "trained weights ship with the app")
        return WeightsStatus(
            model,
            "missing",
            None,
            f"The weights file {path} is missing; the training script in scripts/ makes it again.",
        )
    spec = IMAGENET_WEIGHTS[model]
    path = find_local(model, weights_dir)
    if path is not None:
        return WeightsStatus(model, "ready", path, f"ready ({path})")
    if offline() or (probe and not can_reach_download_server()):
        return WeightsStatus(model, "missing", None, missing_message(spec))
    return WeightsStatus(model, "download", None, f"will download {spec.size_mb} MB on first use (needs internet once)")


def missing_message(spec: WeightsFile, reason: str = "") -> str:
    why = f" ({reason})" if reason else ""
    return (
        f"The ImageNet weights for {spec.model} are not on this computer and could not be downloaded{why}. "
        f"The file {spec.filename} (about {spec.size_mb} MB) belongs in {keras_cache_dir()} or in the folder "
        f"named by the {WEIGHTS_DIR_ENV} environment variable. On a computer with internet, run: "
        f"{spec.fetch_command()}"
    )


def fetch(model: str, progress: bool = True) -> Path:
    """Download ``model``'s ImageNet weights into Keras's cache (a no-op if already there).

    Uses Keras's own downloader with Keras's address and checksum, so the file lands exactly where
    ``weights="imagenet"`` looks for it; Keras prints a progress bar while it downloads.
    """
    if model not in IMAGENET_WEIGHTS:
        raise WeightsError(f"{model} has no ImageNet weights to fetch: its trained weights ship with the app.")
    spec = IMAGENET_WEIGHTS[model]
    existing = find_local(model)
    if existing is not None:
        return existing
    if offline():
        raise WeightsError(missing_message(spec, f"{OFFLINE_ENV} is set"))
    from explainers._tf import keras

    if not progress:
        keras.utils.disable_interactive_logging()
    try:
        path = keras.utils.get_file(spec.filename, spec.url, cache_subdir="models", file_hash=spec.md5)
    except Exception as exc:  # Keras raises bare Exception for network failures
        raise WeightsError(missing_message(spec, _short(exc))) from exc
    finally:
        if not progress:
            keras.utils.enable_interactive_logging()
    return Path(path)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "no internet connection"
    return text[:160]
