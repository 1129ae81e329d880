"""Arrow arrays built from numpy and bytes, never from `pa.array(...)`.

Why: `pa.array` asks pyarrow's pandas shim whether its input is a pandas object, and the shim's first
answer imports pandas: ~45 MB and ~0.45 s in every load child, which has no other use for pandas
(measured in the 1 M bounded run, docs/benchmarks.md). `Array.from_buffers` over numpy memory and
UTF-8 bytes does not consult it, and for the lines of a file it is also the fastest way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa

_INT_TYPES = {np.dtype(np.int32): pa.int32(), np.dtype(np.int64): pa.int64()}
_EPOCH = date(1970, 1, 1)


def int_array(values: np.ndarray) -> pa.Array:
    """An int32 or int64 array sharing `values`' memory (no nulls)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(_INT_TYPES[values.dtype], len(values), [None, pa.py_buffer(values)])


def constant_int(value: int, n: int) -> pa.Array:
    return int_array(np.full(n, value, dtype=np.int32))


def constant_date(value: date, n: int) -> pa.Array:
    days = np.full(n, (value - _EPOCH).days, dtype=np.int32)
    return pa.Array.from_buffers(pa.date32(), n, [None, pa.py_buffer(days)])


def string_array(values: Sequence[str], large: bool = True) -> pa.Array:
    """A (large) string array of `values`; one encode per value, so meant for short lists."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64 if large else np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def constant_string(value: str, n: int) -> pa.Array:
    """`value` n times, dictionary-encoded: one copy of the text."""
    return pa.DictionaryArray.from_arrays(constant_int(0, n), string_array([value], large=False))


def to_mask(values: pa.BooleanArray) -> np.ndarray:
    """A boolean array (no nulls) as a numpy mask, by unpacking its bits (`to_numpy` imports pandas)."""
    bits = np.frombuffer(values.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[values.offset : values.offset + len(values)].astype(bool)
