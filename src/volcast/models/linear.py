"""Ordinary least squares with an intercept, for the HAR family's small, tall designs.

The walk-forward refits HAR on every fold, and the weekly-seasonal variant has 171 columns
on tens of thousands of rows: an SVD least-squares solver (scikit-learn's
``LinearRegression``, ``numpy.linalg.lstsq``) spends most of a backtest there. The normal
equations on centred columns, solved by Cholesky, give the same coefficients for a
full-rank design about four times faster; a design that is not of full rank (a calendar
dummy no training row has) or is too ill-conditioned for the normal equations falls back to
the SVD solver's minimum-norm solution, as scikit-learn would give.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.linalg.lapack import dpocon

# below this reciprocal condition number of the Gram matrix (about cond(X) > 1e6) the
# normal equations lose digits that the SVD solver keeps
_MIN_RCOND = 1e-12


def least_squares(design: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """``(intercept, coefficients)`` minimising ``|target - intercept - design @ coef|^2``."""
    x_mean = design.mean(axis=0)
    y_mean = float(target.mean())
    centred = design - x_mean
    response = target - y_mean
    gram = centred.T @ centred
    coef: np.ndarray | None = None
    try:
        factor = sla.cho_factor(gram, check_finite=False)
    except np.linalg.LinAlgError:  # not positive definite: a column is constant or collinear
        factor = None
    if factor is not None:
        norm = float(np.abs(gram).sum(axis=0).max())  # the 1-norm dpocon wants
        rcond, info = dpocon(factor[0], norm, uplo="L" if factor[1] else "U")
        if info == 0 and rcond > _MIN_RCOND:
            coef = sla.cho_solve(factor, centred.T @ response, check_finite=False)
    if coef is None:
        coef = sla.lstsq(centred, response, check_finite=False)[0]
    return y_mean - float(x_mean @ coef), np.asarray(coef, dtype="float64")
