"""Type aliases for arrays and frames used across sustain."""

from __future__ import annotations

from os import PathLike
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
Frame: TypeAlias = pd.DataFrame
Series: TypeAlias = pd.Series
PathLikeStr: TypeAlias = str | PathLike[str]
