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

from collections.abc import Sequence

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
    coef = _cholesky_solve(centred.T @ centred, centred.T @ response)
    if coef is None:
        coef = sla.lstsq(centred, response, check_finite=False)[0]
    return y_mean - float(x_mean @ coef), np.asarray(coef, dtype="float64")


def one_hot(codes: np.ndarray, size: int) -> np.ndarray:
    """Dummies of ``codes`` in ``0..size-1``, the first category dropped (``n x size-1``)."""
    return np.asarray(np.eye(size)[codes][:, 1:], dtype="float64")


def least_squares_one_hot(
    dense: np.ndarray, blocks: Sequence[tuple[np.ndarray, int]], target: np.ndarray
) -> tuple[float, np.ndarray]:
    """:func:`least_squares` of ``target`` on ``[dense | one_hot(codes, size) ...]``, from the
    codes: the one-hot columns are never built.

    The Gram matrix of a one-hot block is its category counts, and its products with the
    dense columns and the target are per-category sums (``bincount``), so the normal
    equations cost ``O(rows x dense columns^2)`` however many categories there are (168
    hours of the week). Coefficients come in the order of the columns above; a design
    that is not of full rank, or too ill-conditioned, is solved on the built columns.
    """
    n, k = dense.shape
    sizes = [size - 1 for _, size in blocks]
    starts = np.cumsum([k, *sizes])[:-1]
    p = k + sum(sizes)
    gram = np.zeros((p, p))
    cross = np.zeros(p)
    sums = np.zeros(p)
    gram[:k, :k] = dense.T @ dense
    cross[:k] = dense.T @ target
    sums[:k] = dense.sum(axis=0)
    for i, ((codes, size), start) in enumerate(zip(blocks, starts, strict=True)):
        cols = slice(start, start + size - 1)
        counts = np.bincount(codes, minlength=size)[1:].astype("float64")
        sums[cols] = counts
        gram[cols, cols] = np.diag(counts)
        cross[cols] = np.bincount(codes, weights=target, minlength=size)[1:]
        for j in range(k):
            gram[j, cols] = np.bincount(codes, weights=dense[:, j], minlength=size)[1:]
            gram[cols, j] = gram[j, cols]
        for (other, other_size), other_start in zip(blocks[i + 1 :], starts[i + 1 :], strict=True):
            pairs = np.bincount(codes * other_size + other, minlength=size * other_size)
            block = pairs.reshape(size, other_size)[1:, 1:].astype("float64")
            rows = slice(other_start, other_start + other_size - 1)
            gram[cols, rows] = block
            gram[rows, cols] = block.T
    x_mean = sums / n
    y_mean = float(target.mean())
    # centre: X'X - n m m' and X'y - n m ybar (the log columns' means are about -10 and their
    # spread about 1: two of the sixteen digits go)
    coef = _cholesky_solve(gram - n * np.outer(x_mean, x_mean), cross - n * x_mean * y_mean)
    if coef is None:
        design = np.hstack([dense, *(one_hot(codes, size) for codes, size in blocks)])
        return least_squares(design, target)
    return y_mean - float(x_mean @ coef), np.asarray(coef, dtype="float64")


def _cholesky_solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """``gram^-1 rhs`` by Cholesky; None when ``gram`` is singular or ill-conditioned."""
    try:
        factor = sla.cho_factor(gram, check_finite=False)
    except np.linalg.LinAlgError:  # not positive definite: a column is constant or collinear
        return None
    norm = float(np.abs(gram).sum(axis=0).max())  # the 1-norm dpocon wants
    rcond, info = dpocon(factor[0], norm, uplo="L" if factor[1] else "U")
    if info != 0 or not rcond > _MIN_RCOND:
        return None
    return np.asarray(sla.cho_solve(factor, rhs, check_finite=False), dtype="float64")
