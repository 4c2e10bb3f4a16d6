"""The volatility regime shift the drift benchmarks inject into real bars.

Issue 8's shift scales "returns and ranges by 2x and 3x from that bar on": every log price
of the bars from row ``at`` on is moved ``scale`` times as far from the close before the
shift, ``log p' = log c + scale * (log p - log c)`` with ``c`` the close of row ``at - 1``.
So every log return (close to close, open to close, the gap from the previous close) and
every log range (high/low, high/open, low/open) from the shift on is multiplied by
``scale``: returns x2 is variance x4, returns x3 is variance x9. The path stays continuous
(no jump at the shift) and the volumes are left alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRICES = ("open", "high", "low", "close")


def scale_returns(bars: pd.DataFrame, at: int, scale: float) -> pd.DataFrame:
    """``bars`` (rows in time order) with log returns and ranges times ``scale`` from ``at``."""
    if not 0 < at < len(bars):
        raise ValueError(f"shift row {at} outside 1..{len(bars) - 1}")
    out = bars.copy()
    anchor = float(np.log(bars["close"].iloc[at - 1]))
    for col in PRICES:
        values = np.log(out[col].to_numpy(dtype="float64"))
        values[at:] = anchor + scale * (values[at:] - anchor)
        out[col] = np.exp(values)
    return out
