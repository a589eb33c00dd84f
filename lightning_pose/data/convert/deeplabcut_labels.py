"""Reading one DeepLabCut label file (``CollectedData_<scorer>.h5`` or ``.csv``).

DeepLabCut writes its labels with pandas: three column levels ``scorer / bodyparts / coords``
(``x``, ``y`` per bodypart; multi-animal projects add an ``individuals`` level) and, as row
index, either the image path (``labeled-data/vid1/img001.png``) or, since DeepLabCut 2.2, the
three levels ``labeled-data``, ``vid1``, ``img001.png`` (in a CSV: three leading columns). Both
index styles are read from both file types. Numbers are parsed exactly (``round_trip``), so every
value can be written again bit for bit.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from jaxtyping import Float64

from lightning_pose.data.convert.base import ConversionError

__all__ = ["LabelTable", "read_label_file"]

_HEADER = ("scorer", "bodyparts", "coords")
_COORDS = ("x", "y")


@dataclass(frozen=True)
class LabelTable:
    """One label file: image paths (POSIX, as written in the file), bodyparts in file order and
    their ``(x, y)`` values ``(frames, bodyparts, 2)``."""

    path: Path
    image_names: list[str]
    bodyparts: list[str]
    values: Float64[np.ndarray, "frames bodyparts 2"]


def _multi_animal(path: Path, found: str) -> ConversionError:
    return ConversionError(
        f"{str(path)!r}: {found}: this is a multi-animal DeepLabCut label file; litpose convert "
        "reads single-animal projects only (one animal per labeled frame)"
    )


def _read_h5(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_hdf(path)
    except ImportError as err:
        raise ConversionError(
            f"{str(path)!r}: reading DeepLabCut .h5 labels needs PyTables "
            f"(pip install 'lp-sweeps[convert]', or pip install 'tables>=3.9'): {err}"
        ) from err
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise ConversionError(f"{str(path)!r}: not a DeepLabCut HDF5 label file: {err}") from err
    if not isinstance(frame, pd.DataFrame):
        raise ConversionError(f"{str(path)!r}: holds a {type(frame).__name__}, not a label table")
    names = [str(name) for name in frame.columns.names]
    if "individuals" in names or frame.columns.nlevels == 4:
        raise _multi_animal(path, f"column levels {names}")
    if frame.columns.nlevels != 3:
        raise ConversionError(
            f"{str(path)!r}: {frame.columns.nlevels} column levels {names}; expected 3 "
            f"{list(_HEADER)}"
        )
    if isinstance(frame.index, pd.MultiIndex) and frame.index.nlevels != 3:
        raise ConversionError(
            f"{str(path)!r}: row index of {frame.index.nlevels} levels; expected the image path "
            "or the 3 levels ('labeled-data', video, image)"
        )
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        head = pd.read_csv(path, header=None, nrows=4, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ConversionError(f"{str(path)!r}: not a DeepLabCut label CSV: {err}") from err
    first = [str(cell) for cell in head.iloc[:, 0]]
    if len(first) > 1 and first[1] == "individuals":
        raise _multi_animal(path, "header row 2 is 'individuals'")
    if tuple(first[:3]) != _HEADER:
        raise ConversionError(
            f"{str(path)!r}: the first column of the header rows reads {first[:3]}; a DeepLabCut "
            f"label CSV starts with the rows {list(_HEADER)}"
        )
    coords_row = [str(cell) for cell in head.iloc[2, 1:]]
    num_index = 1 + next((i for i, cell in enumerate(coords_row) if cell != ""), len(coords_row))
    if num_index not in (1, 3):
        raise ConversionError(
            f"{str(path)!r}: {num_index} row-index columns; expected 1 (image path) or 3 "
            "('labeled-data', video, image)"
        )
    try:
        data = pd.read_csv(
            path, header=None, skiprows=3, index_col=list(range(num_index)),
            dtype={i: str for i in range(num_index)}, float_precision="round_trip",
        )
    except pd.errors.EmptyDataError:
        data = pd.DataFrame(index=pd.Index([], dtype=str), columns=range(num_index, head.shape[1]))
    except (pd.errors.ParserError, ValueError) as err:
        raise ConversionError(f"{str(path)!r}: cannot read the label rows: {err}") from err
    if data.shape[1] != head.shape[1] - num_index:
        raise ConversionError(
            f"{str(path)!r}: label rows have {data.shape[1]} value columns, the header "
            f"{head.shape[1] - num_index}"
        )
    data.columns = pd.MultiIndex.from_arrays(
        [list(head.iloc[row, num_index:]) for row in range(3)], names=list(_HEADER)
    )
    return data


def _image_names(path: Path, index: pd.Index) -> list[str]:
    """Row index -> POSIX image paths (3-level indexes joined, Windows separators turned)."""
    rows = list(index)
    names = []
    for line, row in enumerate(rows):
        parts = row if isinstance(row, tuple) else (row,)
        if any(not isinstance(part, str) or part == "" for part in parts):
            raise ConversionError(
                f"{str(path)!r}: label row {line + 1} has an empty or non-text image path {row!r}"
            )
        names.append("/".join(part.replace("\\", "/") for part in parts))
    return names


def _coordinate_columns(path: Path, columns: pd.MultiIndex) -> dict[str, list[int]]:
    """bodypart -> [position of its x column, position of its y column], in file order."""
    positions: dict[str, dict[str, int]] = {}
    for position, (_, bodypart, coord) in enumerate(columns):
        bodypart, coord = str(bodypart), str(coord)
        if coord not in _COORDS:
            raise ConversionError(
                f"{str(path)!r}: bodypart {bodypart!r} has a column with coords {coord!r}; "
                f"label files hold only {list(_COORDS)}"
            )
        if coord in positions.setdefault(bodypart, {}):
            raise ConversionError(f"{str(path)!r}: bodypart {bodypart!r} has two {coord!r} columns")
        positions[bodypart][coord] = position
    for bodypart, coords in positions.items():
        missing = [c for c in _COORDS if c not in coords]
        if missing:
            raise ConversionError(f"{str(path)!r}: bodypart {bodypart!r} has no {missing[0]!r} column")
    return {bodypart: [coords[c] for c in _COORDS] for bodypart, coords in positions.items()}


def _numeric(path: Path, frame: pd.DataFrame, images: list[str]) -> np.ndarray:
    """float64 values; a cell that is not a number raises naming image, bodypart and value."""
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            continue
        parsed = pd.to_numeric(column, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy() & column.notna().to_numpy())
        row = int(bad[0]) if len(bad) else 0
        _, bodypart, coord = frame.columns[position]
        raise ConversionError(
            f"{str(path)!r}: image {images[row]!r}, bodypart {bodypart!r}, {coord}: "
            f"{column.iloc[row]!r} is not a number"
        )
    return frame.to_numpy(dtype=np.float64)


def read_label_file(path: Path) -> LabelTable:
    """Read and check one ``CollectedData_<scorer>.h5``/``.csv`` (single animal)."""
    frame = _read_h5(path) if path.suffix.lower() == ".h5" else _read_csv(path)
    images = _image_names(path, frame.index)
    columns = _coordinate_columns(path, frame.columns)
    values = _numeric(path, frame, images)
    if not columns:
        raise ConversionError(f"{str(path)!r}: no bodypart columns")
    bodyparts = list(columns)
    table = np.stack([values[:, columns[b]] for b in bodyparts], axis=1)
    return LabelTable(path=path, image_names=images, bodyparts=bodyparts, values=np.ascontiguousarray(table))
