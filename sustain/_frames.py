"""Tables (DataFrames and Series) inside a NetCDF Dataset, exactly, for saved results.

Numbers, booleans and dates become NetCDF variables (bit-for-bit); text, categories and other
objects become JSON lists in the metadata, because NetCDF strings cannot hold a missing value.
Index levels are stored as columns with their names, so a table comes back with the same index,
columns, order and dtypes. Written by hand because xarray's ``Dataset.from_dataframe`` turns a
table into a grid over its index (rows with repeated keys, string columns with missing values
and the pandas 3 string dtype do not survive the round trip).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_PREFIX = "frame__"


def encode(name: str, table: pd.DataFrame | pd.Series) -> tuple[dict[str, Any], dict[str, Any]]:
    """NetCDF variables and JSON metadata that together hold ``table``.

    Examples
    --------
    >>> t = pd.DataFrame({"g": ["a", None], "x": [1.5, np.nan]}, index=pd.Index([3, 4], name="i"))
    >>> variables, meta = encode("t", t)
    >>> decode("t", variables, meta).equals(t)
    True
    """
    series = isinstance(table, pd.Series)
    frame = table.to_frame() if series else table
    flat = frame.reset_index()
    n_index = frame.index.nlevels
    meta: dict[str, Any] = {
        "series": series,
        "series_name": _label(table.name) if series else None,
        "index": [_label(n) for n in frame.index.names],
        "columns": [_label(c) for c in frame.columns],
        "column_names": _label(frame.columns.name),
        "dtypes": [],
        "text": {},
    }
    variables: dict[str, Any] = {}
    dim = f"{_PREFIX}{name}__row"
    for j in range(flat.shape[1]):
        column = flat.iloc[:, j]
        dtype = column.dtype
        meta["dtypes"].append(_dtype_text(dtype))
        if isinstance(dtype, pd.CategoricalDtype):
            meta["text"][str(j)] = {
                "values": [None if pd.isna(v) else _label(v) for v in column],
                "categories": [_label(c) for c in dtype.categories],
                "ordered": bool(dtype.ordered),
            }
        elif isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            variables[f"{dim}__{j}"] = ((dim,), column.to_numpy())
        elif isinstance(dtype, np.dtype) and dtype.kind == "M":
            variables[f"{dim}__{j}"] = ((dim,), column.to_numpy().view("int64"))
        else:
            meta["text"][str(j)] = {"values": [None if _missing(v) else _label(v) for v in column]}
    meta["n_index"] = n_index
    if isinstance(frame.index, pd.RangeIndex):
        meta["range"] = [frame.index.start, frame.index.stop, frame.index.step]
    meta["rows"] = len(flat)
    return variables, meta


def decode(name: str, variables: Any, meta: dict[str, Any]) -> pd.DataFrame | pd.Series:
    """The table :func:`encode` stored (``variables`` maps names to arrays or is a Dataset)."""
    dim = f"{_PREFIX}{name}__row"
    labels = [*meta["index"], *meta["columns"]]
    data: dict[int, pd.Series] = {}
    for j, dtype in enumerate(meta["dtypes"]):
        key = str(j)
        if key in meta["text"]:
            stored = meta["text"][key]
            if "categories" in stored:
                cat = pd.CategoricalDtype(stored["categories"], ordered=stored["ordered"])
                data[j] = pd.Series(stored["values"], dtype=cat)
            else:
                data[j] = pd.Series(stored["values"], dtype=object).astype(_text_dtype(dtype))
        else:
            stored_values = variables[f"{dim}__{j}"]
            if isinstance(stored_values, tuple):  # (dims, array) as encode returned it
                stored_values = stored_values[1]
            values = np.asarray(stored_values)
            if dtype.startswith("datetime64"):
                data[j] = pd.Series(values.view(dtype))
            else:
                data[j] = pd.Series(values.astype(dtype, copy=False))
    flat = pd.DataFrame({j: data[j] for j in range(len(labels))})
    flat.columns = pd.Index(range(len(labels)))
    n_index = meta["n_index"]
    frame = flat.iloc[:, n_index:]
    frame.columns = pd.Index(meta["columns"], name=meta["column_names"])
    if meta.get("range"):
        start, stop, step = meta["range"]
        index: pd.Index = pd.RangeIndex(start, stop, step, name=meta["index"][0])
    elif n_index == 1:
        index = pd.Index(flat.iloc[:, 0].array, name=meta["index"][0])
    else:
        index = pd.MultiIndex.from_frame(flat.iloc[:, :n_index], names=meta["index"])
    frame.index = index
    if meta["series"]:
        return frame.iloc[:, 0].rename(meta["series_name"])
    return frame


def _label(value: Any) -> Any:
    """Labels and cells as JSON-ready values (NumPy scalars as Python numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_label(v) for v in value]
    return value


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are not missing
        return False


def _dtype_text(dtype: Any) -> str:
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):
        return "str"
    return str(dtype)


def _text_dtype(stored: str) -> Any:
    """The dtype to restore a JSON-stored column to (text, nullable numbers, objects)."""
    return "str" if stored == "str" else stored
