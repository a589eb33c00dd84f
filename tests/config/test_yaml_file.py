"""lightning_pose.config.yaml_file: YAML as people write it, errors with file, line and column."""

import pytest

from lightning_pose.config.yaml_file import YamlFileError, parse_yaml, read_yaml


def test_numbers_dates_and_merge_keys():
    data = parse_yaml("a: 1e-4\nb: 5.0e-3\nc: 1\nd: 2024-01-31\ne: .5\nf: 1_000\ng: [1, 2.]\n"
                      "h: -3e2\ni: '1e-4'\nj: .inf\nk: true\nbase: &b {x: 1, y: 2}\nnew: {<<: *b, x: 5}\n", "t.yaml")
    assert data == {"a": 0.0001, "b": 0.005, "c": 1, "d": "2024-01-31", "e": 0.5, "f": 1000, "g": [1, 2.0],
                    "h": -300.0, "i": "1e-4", "j": float("inf"), "k": True, "base": {"x": 1, "y": 2},
                    "new": {"x": 5, "y": 2}}
    assert type(data["c"]) is int and type(data["a"]) is float


@pytest.mark.parametrize("text, line, column, problem", [
    ("a: 1\nb: 2\na: 3\n", 3, 1, "key 'a' is given twice (first on line 1)"),
    ("outer:\n  x: 1\n  y: {z: 1, z: 2}\n", 3, 13, "key 'z' is given twice (first on line 3)"),
    ("a: [1, 2\nb: 3\n", 2, 2, "expected ',' or ']', but got ':' (while parsing a flow sequence)"),
    ("a:\n  b: 1\n   c: 2\n", 3, 5, "mapping values are not allowed here"),
    ("a: 'open\n", 2, 1, "found unexpected end of stream (while scanning a quoted scalar)"),
])
def test_errors_name_file_line_column_and_quote_the_line(text, line, column, problem):
    with pytest.raises(YamlFileError) as err:
        parse_yaml(text, "study.yaml")
    assert (err.value.source, err.value.line, err.value.column, err.value.problem) == ("study.yaml", line, column, problem)
    lines = str(err.value).splitlines()
    assert lines[0] == f"study.yaml: line {line}, column {column}: {problem}"
    quoted = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
    if quoted:
        assert lines[1] == f"    {quoted}" and lines[2] == "    " + " " * (column - 1) + "^"


def test_read_yaml_missing_file_and_binary_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.yaml"):
        read_yaml(tmp_path / "absent.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00a: 1")
    with pytest.raises(YamlFileError, match=r"b.yaml: not a UTF-8 text file"):
        read_yaml(binary)
