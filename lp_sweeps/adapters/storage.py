"""Where Ray keeps trial results and checkpoints: a local folder, a folder every node mounts, or
an object store URI such as ``s3://bucket/prefix`` (through pyarrow's filesystems, as Ray does)."""

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs

__all__ = ["check_storage", "checkpoint_dirs", "checkpoint_ref", "fetch_checkpoint_file", "newest_checkpoint_json"]


def check_storage(storage_path: str) -> str:
    """The storage path as Ray will use it (a local folder made absolute, or a URI), after checking
    that it can be written; a clear error otherwise."""
    if not urlparse(storage_path).scheme:
        storage_path = str(Path(storage_path).resolve())
    try:
        filesystem, path = pyarrow.fs.FileSystem.from_uri(storage_path)  # absolute local paths too
        filesystem.create_dir(path, recursive=True)
        if filesystem.get_file_info(path).type != pyarrow.fs.FileType.Directory:
            raise OSError("it is not a directory")
    except (OSError, ValueError) as err:  # pyarrow's errors derive from these
        raise ValueError(f"cannot use storage path {storage_path!r} for trial results and checkpoints: {err}") from None
    return storage_path


def checkpoint_ref(path: str, storage_dir: str) -> str:
    """A kept checkpoint's location as a plain path (local or shared filesystem) or a URI."""
    scheme = urlparse(storage_dir).scheme
    return path if scheme in ("", "file") or "://" in path else f"{scheme}://{path}"


def fetch_checkpoint_file(ref: str, file_name: str, folder: str | os.PathLike) -> Path:
    """The file ``file_name`` of a kept checkpoint folder as a local file: the file itself on a
    local or shared filesystem, else a copy downloaded into ``folder``."""
    if "://" not in ref:
        return Path(ref) / file_name
    local = Path(folder, hashlib.sha256(ref.encode()).hexdigest()[:16])
    local.mkdir(parents=True, exist_ok=True)
    filesystem, path = pyarrow.fs.FileSystem.from_uri(ref)
    pyarrow.fs.copy_files(f"{path}/{file_name}", str(local / file_name), source_filesystem=filesystem,
                          destination_filesystem=pyarrow.fs.LocalFileSystem())
    return local / file_name


def checkpoint_dirs(filesystem: pyarrow.fs.FileSystem, trial_path: str) -> list[str]:
    """The ``checkpoint_*`` folders of a trial's storage folder, oldest name first."""
    infos = filesystem.get_file_info(pyarrow.fs.FileSelector(trial_path, allow_not_found=True))
    return sorted(i.path for i in infos if i.type == pyarrow.fs.FileType.Directory
                  and i.base_name.startswith("checkpoint_"))


def newest_checkpoint_json(filesystem: pyarrow.fs.FileSystem, trial_path: str, file_name: str) -> dict | None:
    """The JSON file ``file_name`` of the newest checkpoint folder of a trial that has one."""
    for folder in reversed(checkpoint_dirs(filesystem, trial_path)):
        path = f"{folder}/{file_name}"
        if filesystem.get_file_info(path).type == pyarrow.fs.FileType.File:
            with filesystem.open_input_stream(path) as stream:
                return json.loads(stream.read().decode())
    return None
