"""Reading label files and resolving the paths that go with them.

Label files are DeepLabCut-style CSVs: three header rows (``scorer`` / ``bodyparts`` /
``coords``), one row per labeled frame, the first column is the image path relative to the data
directory, then ``x, y`` (optionally ``x, y, visible``) per keypoint. Empty cells are unlabeled
keypoints (NaN).

Every reader here fails loudly: a malformed file raises an error that names the file and the
line/column at fault, so a typo in a label file is found before training starts.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from jaxtyping import Float32, Int64

__all__ = [
    "LabeledData",
    "parse_label_csv",
    "get_keypoint_names",
    "fix_empty_first_row",
    "resolve_csv_path",
    "check_image_files_exist",
    "get_context_img_paths",
]

_VISIBILITY_VALUES = (0, 1, 2)


@dataclass(frozen=True)
class LabeledData:
    """Content of one label CSV; keypoints are in original-frame pixels."""

    keypoint_names: list[str]
    image_names: list[str]
    keypoints: Float32[np.ndarray, "num_frames num_keypoints 2"]
    visibility: Int64[np.ndarray, "num_frames num_keypoints"] | None


def resolve_csv_path(root_directory: str | Path, csv_path: str | Path) -> Path:
    """``csv_path`` if it names an existing file, else ``root_directory / csv_path``."""
    direct = Path(csv_path)
    if direct.is_file():
        return direct
    joined = Path(root_directory) / csv_path
    if not joined.is_file():
        raise FileNotFoundError(
            f"label CSV not found: tried {str(direct)!r} and {str(joined)!r}"
        )
    return joined


def fix_empty_first_row(df: pd.DataFrame) -> pd.DataFrame:
    """Restore a first data row that pandas read as the index name.

    With a multi-row header, pandas cannot tell an all-empty first data row (image path followed
    by empty cells) from a row of index names, and turns it into ``df.index.name``. When an index
    name is present, it is put back as an all-NaN first row.
    """
    if df.index.name is None:
        return df
    first = pd.DataFrame(np.nan, index=[df.index.name], columns=df.columns, dtype="float64")
    fixed = pd.concat([first, df])
    fixed.index.name = None
    return fixed


def _header_levels(header_rows: Sequence[int]) -> tuple[int, int]:
    """(level holding keypoint names, level holding coords) for the supported header layouts."""
    rows = list(header_rows)
    if rows == [0, 1, 2]:
        return 1, 2
    if rows in ([0, 1], [1, 2]):
        return 0, 1
    raise ValueError(f"header_rows must be [0, 1, 2], [0, 1] or [1, 2]; got {rows}")


def _read_csv(path: Path, header_rows: Sequence[int], nrows: int | None = None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, header=list(header_rows), index_col=0, nrows=nrows)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, IndexError, ValueError) as err:
        raise ValueError(f"could not read label CSV {str(path)!r}: {err}") from err


def _check_columns(path: Path, columns: pd.MultiIndex, header_rows: Sequence[int]) -> tuple[list[str], int]:
    """Validate the header; return (keypoint names in file order, columns per keypoint)."""
    name_level, coord_level = _header_levels(header_rows)
    if columns.nlevels != len(list(header_rows)):
        raise ValueError(f"{str(path)!r}: expected {len(list(header_rows))} header rows")
    names = [str(c) for c in columns.get_level_values(name_level)]
    coords = [str(c) for c in columns.get_level_values(coord_level)]
    group = 3 if "visible" in coords else 2
    expected = ("x", "y", "visible")[:group]
    if len(coords) == 0 or len(coords) % group != 0:
        raise ValueError(
            f"{str(path)!r}: {len(coords)} coordinate columns is not a multiple of {group}; "
            f"each keypoint needs the columns {list(expected)}"
        )
    for col, (name, coord) in enumerate(zip(names, coords)):
        # file column number: 1 is the image path, coordinates start at 2
        if coord != expected[col % group]:
            raise ValueError(
                f"{str(path)!r}: column {col + 2} (keypoint {name!r}) has coords label {coord!r}, "
                f"expected {expected[col % group]!r}; the header must have {len(list(header_rows))} "
                f"rows (scorer/bodyparts/coords) with coords {list(expected)} per keypoint"
            )
        if name != names[col - col % group]:
            raise ValueError(
                f"{str(path)!r}: column {col + 2} belongs to keypoint {name!r} but the "
                f"{expected[0]!r} column before it belongs to {names[col - col % group]!r}"
            )
    return names[::group], group


def _to_numeric(path: Path, df: pd.DataFrame, n_header: int) -> np.ndarray:
    """float64 array of all coordinate cells; non-numeric cells raise naming line and column."""
    numeric = df.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().to_numpy() & df.notna().to_numpy()
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{str(path)!r}: non-numeric value {df.iat[row, col]!r} at line {n_header + row + 1} "
            f"(image {df.index[row]!r}), column {col + 2} {tuple(df.columns[col])}"
        )
    return numeric.to_numpy(dtype=np.float64)


def _visibility(path: Path, values: np.ndarray, names: list[str], n_header: int) -> np.ndarray:
    vis = values[:, :, 2]
    bad = ~np.isin(vis, _VISIBILITY_VALUES)  # NaN is never in the set
    if bad.any():
        row, kp = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{str(path)!r}: visibility of keypoint {names[kp]!r} at line {n_header + row + 1} is "
            f"{float(vis[row, kp])}; allowed values are {list(_VISIBILITY_VALUES)}"
        )
    return vis.astype(np.int64)


def parse_label_csv(csv_file: str | Path, header_rows: Sequence[int] = (0, 1, 2)) -> LabeledData:
    """Read a DLC-style label CSV into a :class:`LabeledData`.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and the
    line/column for a wrong header, an odd number of coordinate columns, a non-numeric cell, or a
    visibility value outside {0, 1, 2}.
    """
    path = Path(csv_file)
    if not path.is_file():
        raise FileNotFoundError(f"label CSV not found: {str(path)!r}")
    df = fix_empty_first_row(_read_csv(path, header_rows))
    names, group = _check_columns(path, df.columns, header_rows)
    if df.index.isna().any():
        row = int(np.flatnonzero(df.index.isna())[0])
        raise ValueError(f"{str(path)!r}: empty image path at line {len(list(header_rows)) + row + 1}")
    values = _to_numeric(path, df, len(list(header_rows))).reshape(len(df), len(names), group)
    visibility = _visibility(path, values, names, len(list(header_rows))) if group == 3 else None
    return LabeledData(
        keypoint_names=names,
        image_names=[str(i) for i in df.index],
        keypoints=np.ascontiguousarray(values[:, :, :2], dtype=np.float32),
        visibility=visibility,
    )


def get_keypoint_names(csv_file: str | Path, header_rows: Sequence[int] = (0, 1, 2)) -> list[str]:
    """Keypoint names of a label CSV in file order (reads only the header)."""
    path = Path(csv_file)
    if not path.is_file():
        raise FileNotFoundError(f"label CSV not found: {str(path)!r}")
    columns = _read_csv(path, header_rows, nrows=1).columns
    return _check_columns(path, columns, header_rows)[0]


def check_image_files_exist(
    root_directory: str | Path,
    image_names: Sequence[str],
    csv_file: str | Path,
    n_header_rows: int = 3,
    max_reported: int = 5,
) -> None:
    """Raise ``FileNotFoundError`` listing the first missing images with their CSV line."""
    root = Path(root_directory)
    missing = [(i, name) for i, name in enumerate(image_names) if not (root / name).is_file()]
    if not missing:
        return
    shown = "; ".join(
        f"line {n_header_rows + i + 1}: {name!r} -> {str(root / name)!r}"
        for i, name in missing[:max_reported]
    )
    more = f" (and {len(missing) - max_reported} more)" if len(missing) > max_reported else ""
    raise FileNotFoundError(
        f"{len(missing)} of {len(image_names)} images listed in {str(csv_file)!r} do not exist "
        f"under {str(root)!r}: {shown}{more}"
    )


def get_context_img_paths(center_img_path: Path) -> list[Path]:
    """Paths of the 5 frames ``n-2 .. n+2`` around a labeled frame.

    ``n`` is the first run of digits in the file stem; indices below 0 are floored at 0 and the
    result is zero-padded to the digit width of the original name.
    """
    center_img_path = Path(center_img_path)
    match = re.search(r"\d+", center_img_path.stem)
    if match is None:
        raise ValueError(
            f"no frame index (digits) in the file name {center_img_path.name!r}; context frames "
            "need names like img0042.png"
        )
    digits, stem = match.group(), center_img_path.stem
    center = int(digits)
    paths = []
    for index in range(center - 2, center + 3):
        index_str = str(max(index, 0)).zfill(len(digits))
        new_stem = stem[: match.start()] + index_str + stem[match.end():]
        paths.append(center_img_path.with_name(new_stem + center_img_path.suffix))
    return paths

