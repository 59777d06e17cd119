"""Bradley-Terry ratings by maximum likelihood, with three ways to treat ties.

System ``i`` has strength ``theta_i`` (natural log scale). Without ties (Bradley & Terry 1952,
"Rank analysis of incomplete block designs"), ``i`` beats ``j`` with probability
``exp(theta_i) / (exp(theta_i) + exp(theta_j))``. Ties are

- ``"half"``: counted as half a win for each side,
- ``"drop"``: left out (their number is logged),
- ``"davidson"``: modelled (Davidson 1970, "On extending the Bradley-Terry model to accommodate
  ties in paired comparison experiments"): with ``pi = exp(theta)`` and a tie parameter
  ``nu >= 0``, ``P(i wins) = pi_i / D``, ``P(tie) = nu * sqrt(pi_i * pi_j) / D``,
  ``D = pi_i + pi_j + nu * sqrt(pi_i * pi_j)``.

The likelihood depends on the data only through outcome counts per pair of systems
(:class:`~accord.rankings.battles.PairCounts`), so a fit costs the same for a thousand battles
as for a million. Writing ``d = theta_i - theta_j`` and ``eta = log nu``, one pair with ``w``
wins of ``i``, ``l`` wins of ``j`` and ``t`` ties contributes

    (w - l) * d / 2 + t * eta - (w + l + t) * log(exp(d/2) + exp(-d/2) + exp(eta))

to the log-likelihood (without ties the ``exp(eta)`` term is absent). This is a log-sum-exp of
linear functions, so the negative log-likelihood is convex and Newton's method with step halving
converges from any start. Strengths are only defined up to a common shift; the objective adds
``(sum theta)^2 / 2``, which is zero at the optimum and makes the Hessian invertible.
An optional L2 penalty ``l2 / 2 * sum theta^2`` (a Gaussian prior with variance ``1 / l2``)
keeps strengths finite for a system that never loses.

All fitting runs on a batch of count tables at once (``(n_fits, n_pairs, 3)``), so a bootstrap
of a thousand resamples is a few vectorised Newton steps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from accord.errors import AccordError, ConfigError
from accord.rankings.battles import PairCounts

logger = logging.getLogger(__name__)

TieModel = Literal["half", "drop", "davidson"]
TIE_MODELS = ("half", "drop", "davidson")


def _check_ties(ties: str) -> None:
    if ties not in TIE_MODELS:
        raise ConfigError(f"ties must be one of {TIE_MODELS}, got {ties!r}")


def _split_counts(wins: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(..., n_pairs, 3)`` counts to (left wins, right wins, ties) as the tie model sees them."""
    left, right, tie = wins[..., 0], wins[..., 1], wins[..., 2]
    if ties == "half":
        return left + 0.5 * tie, right + 0.5 * tie, np.zeros_like(tie)
    if ties == "drop":
        return left, right, np.zeros_like(tie)
    return left, right, tie


@dataclass(frozen=True)
class _Design:
    """The pair structure as sparse matrices, built once per fit.

    ``left`` and ``right`` index each pair's systems. ``incidence_t`` is ``(n_systems,
    n_pairs)``: +1 where the system is a pair's left one, -1 where it is the right one, so it
    sums per-pair derivatives into per-system ones. ``spread`` is ``(n_systems ** 2, n_pairs)``
    and turns per-pair curvatures into the flattened Hessian ``incidence' diag(c) incidence``.
    Sparse products keep the batch arithmetic out of the multithreaded BLAS, whose threads
    slow tiny products down by an order of magnitude when the cores are busy.
    """

    left: np.ndarray
    right: np.ndarray
    incidence_t: csr_matrix
    spread: csr_matrix

    def per_system(self, per_pair: np.ndarray) -> np.ndarray:
        """``(B, n_pairs)`` -> ``(B, n_systems)``: ``per_pair @ incidence``."""
        return np.asarray((self.incidence_t @ per_pair.T).T)

    @classmethod
    def of(cls, counts: PairCounts) -> _Design:
        n = len(counts.systems)
        n_pairs = len(counts.left)
        pairs = np.arange(n_pairs)
        left, right = counts.left, counts.right
        incidence_t = csr_matrix(
            (np.r_[np.ones(n_pairs), -np.ones(n_pairs)], (np.r_[left, right], np.r_[pairs, pairs])),
            shape=(n, n_pairs),
        )
        cells = np.concatenate([left * n + left, right * n + right, left * n + right,
                                right * n + left])
        signs = np.concatenate([np.ones(2 * n_pairs), -np.ones(2 * n_pairs)])
        spread = csr_matrix((signs, (cells, np.tile(pairs, 4))), shape=(n * n, n_pairs))
        return cls(left, right, incidence_t, spread)


def _evaluate(
    x: np.ndarray,
    design: _Design,
    wins: np.ndarray,
    ties: str,
    l2: float,
    order: int,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Objective, gradient and Hessian for a batch of parameter vectors.

    Args:
        x: ``(B, n_params)``: strengths ``theta`` (n_systems), then ``eta = log nu`` for
            Davidson ties.
        design: the pair structure.
        wins: ``(B, n_pairs, 3)`` counts (left wins, right wins, ties).
        ties: the tie model.
        l2: L2 penalty on the strengths.
        order: 0 for the objective only, 1 adds the gradient, 2 the Hessian.

    Returns:
        ``(f, g, h)``: ``(B,)``, ``(B, n_params)``, ``(B, n_params, n_params)``; unrequested
        parts are None.
    """
    n_systems = design.incidence_t.shape[0]
    davidson = ties == "davidson"
    theta = x[:, :n_systems]
    w_left, w_right, w_tie = _split_counts(wins, ties)
    total = w_left + w_right + w_tie
    d = theta[:, design.left] - theta[:, design.right]  # (B, n_pairs)
    half = 0.5 * d
    if davidson:
        eta = x[:, n_systems:n_systems + 1]  # (B, 1)
        top = np.maximum(np.abs(half), eta)
        e3 = np.exp(eta - top)
    else:
        top = np.abs(half)
        e3 = np.zeros_like(half)
    e1 = np.exp(half - top)
    e2 = np.exp(-half - top)
    s = e1 + e2 + e3
    log_norm = top + np.log(s)

    loglik = (w_left - w_right) * half - total * log_norm
    if davidson:
        loglik = loglik + w_tie * eta
    theta_sum = theta.sum(axis=1)
    f = -loglik.sum(axis=1) + 0.5 * l2 * (theta**2).sum(axis=1) + 0.5 * theta_sum**2
    if order == 0:
        return f, None, None

    tanh_part = (e1 - e2) / (2.0 * s)  # d/dd of log_norm
    dl_dd = 0.5 * (w_left - w_right) - total * tanh_part
    g_theta = -design.per_system(dl_dd) + l2 * theta + theta_sum[:, None]
    if davidson:
        tie_share = e3 / s  # d/deta of log_norm
        g_eta = -(w_tie - total * tie_share).sum(axis=1, keepdims=True)
        g = np.concatenate([g_theta, g_eta], axis=1)
    else:
        g = g_theta
    if order == 1:
        return f, g, None

    n_params = x.shape[1]
    batch = x.shape[0]
    curv_dd = total * ((e1 + e2) / (4.0 * s) - tanh_part**2)  # -d2l/dd2, (B, n_pairs)
    h = np.empty((batch, n_params, n_params))
    h[:, :n_systems, :n_systems] = np.asarray((design.spread @ curv_dd.T).T).reshape(
        batch, n_systems, n_systems
    )
    h[:, :n_systems, :n_systems] += l2 * np.eye(n_systems) + 1.0
    if davidson:
        curv_de = -total * tanh_part * tie_share  # -d2l/(dd deta)
        curv_ee = total * tie_share * (1.0 - tie_share)  # -d2l/deta2
        h_te = design.per_system(curv_de)
        h[:, :n_systems, n_systems] = h_te
        h[:, n_systems, :n_systems] = h_te
        h[:, n_systems, n_systems] = curv_ee.sum(axis=1)
    return f, g, h


def negative_log_likelihood(
    params: np.ndarray, counts: PairCounts, ties: TieModel = "davidson", l2: float = 0.0
) -> float:
    """The objective the fit minimises, for one parameter vector (see the module docstring).

    Args:
        params: ``(n_systems,)`` strengths, plus ``log nu`` last for Davidson ties.
        counts: outcome counts per pair.
        ties: ``"half"``, ``"drop"`` or ``"davidson"``.
        l2: L2 penalty on the strengths.
    """
    _check_ties(ties)
    x = np.asarray(params, dtype=float)[None, :]
    f, _, _ = _evaluate(x, _Design.of(counts), counts.wins[None], ties, l2, order=0)
    return float(f[0])


def gradient(
    params: np.ndarray, counts: PairCounts, ties: TieModel = "davidson", l2: float = 0.0
) -> np.ndarray:
    """Gradient of :func:`negative_log_likelihood` with respect to ``params``."""
    _check_ties(ties)
    x = np.asarray(params, dtype=float)[None, :]
    _, g, _ = _evaluate(x, _Design.of(counts), counts.wins[None], ties, l2, order=1)
    assert g is not None
    return g[0]


def mle_exists(counts: PairCounts, ties: TieModel = "davidson", l2: float = 0.0) -> bool:
    """Whether the maximum-likelihood strengths are finite (Ford 1957's condition).

    Without a penalty they are finite exactly when, for every split of the systems into two
    groups, someone in each group beat (or tied) someone in the other: the directed graph
    "i beat or tied j" is strongly connected. With ``l2 > 0`` they always are.
    """
    if l2 > 0:
        return True
    return bool(_strongly_connected(counts, counts.wins[None], ties)[0])


def _strongly_connected(counts: PairCounts, wins: np.ndarray, ties: str) -> np.ndarray:
    """``(B,)`` bool: whether each count table's "beat or tied" graph is strongly connected."""
    n = len(counts.systems)
    w_left, w_right, w_tie = _split_counts(wins, ties)
    if ties == "davidson":
        w_left, w_right = w_left + w_tie, w_right + w_tie
    # Pairs that went both ways are edges in both directions; when every pair did and the pairs
    # connect all systems, the graph is strongly connected without a search.
    n_groups, _ = connected_components(
        csr_matrix((np.ones(len(counts.left)), (counts.left, counts.right)), shape=(n, n)),
        directed=False,
    )
    out = ((w_left > 0) & (w_right > 0)).all(axis=1) & (n_groups == 1)
    for b in np.flatnonzero(~out):
        # An edge j -> i for every win of i over j: from every system one must reach every other.
        rows = np.concatenate([counts.right[w_left[b] > 0], counts.left[w_right[b] > 0]])
        cols = np.concatenate([counts.left[w_left[b] > 0], counts.right[w_right[b] > 0]])
        graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        n_components, _ = connected_components(graph, directed=True, connection="strong")
        out[b] = n_components == 1
    return out


@dataclass(frozen=True)
class BradleyTerryFit:
    """A fitted Bradley-Terry model.

    Attributes:
        systems: system names, the order of ``strengths``.
        strengths: ``(n_systems,)`` natural log-odds strengths, mean zero.
        tie_param: Davidson's ``nu`` (None unless ``ties == "davidson"``); with equal strengths
            a tie is ``nu / (2 + nu)`` likely.
        ties: the tie model.
        l2: the L2 penalty used.
        log_likelihood: the log-likelihood at the optimum (without the penalty).
        n_iter: Newton iterations taken.
        n_battles: battles the fit rests on (after dropping ties, if they were dropped).
    """

    systems: tuple[str, ...]
    strengths: np.ndarray
    tie_param: float | None
    ties: str
    l2: float
    log_likelihood: float
    n_iter: int
    n_battles: int

    def probabilities(self) -> tuple[np.ndarray, np.ndarray]:
        """``(P_win, P_tie)``, each ``(n_systems, n_systems)``: row beats column, and a tie.

        Without the Davidson model ``P_tie`` is all zeros. The diagonal is NaN.
        """
        return predicted_probabilities(self.strengths, self.tie_param)


def predicted_probabilities(
    strengths: np.ndarray, tie_param: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Win and tie probabilities of every ordered pair under (Davidson's) Bradley-Terry model.

    Args:
        strengths: ``(n_systems,)`` natural log-odds strengths.
        tie_param: Davidson's ``nu``, or None for the model without ties.

    Returns:
        ``(P_win, P_tie)``, each ``(n_systems, n_systems)``; ``P_win[i, j]`` is the probability
        that ``i`` beats ``j``. Diagonals are NaN.
    """
    theta = np.asarray(strengths, dtype=float)
    half = 0.5 * (theta[:, None] - theta[None, :])
    nu = 0.0 if tie_param is None else float(tie_param)
    # Divided through by sqrt(pi_i * pi_j) so that large strengths do not overflow.
    denom = np.exp(half) + np.exp(-half) + nu
    p_win = np.exp(half) / denom
    p_tie = nu / denom
    np.fill_diagonal(p_win, np.nan)
    np.fill_diagonal(p_tie, np.nan)
    return p_win, p_tie


def _solve_positive_definite(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve ``h @ x = g`` for a batch of small positive definite ``h`` (``(B, m, m)``, ``(B, m)``).

    Gaussian elimination needs no pivoting on positive definite matrices. Written with
    elementwise numpy, it runs in one thread; LAPACK's batched solve hands each 20 x 20 system
    to BLAS threads and becomes many times slower on a busy machine. Above 64 parameters the
    O(m) Python steps cost more than that, and LAPACK is used.
    """
    m = h.shape[1]
    if m > 64:
        return np.linalg.solve(h, g[..., None])[..., 0]
    a = h.copy()
    x = g.copy()
    for k in range(m - 1):
        factor = a[:, k + 1:, k] / a[:, k, k][:, None]  # (B, m - k - 1)
        a[:, k + 1:, k:] -= factor[:, :, None] * a[:, None, k, k:]
        x[:, k + 1:] -= factor * x[:, k:k + 1]
    for k in range(m - 1, -1, -1):
        x[:, k] = (x[:, k] - np.einsum("bj,bj->b", a[:, k, k + 1:], x[:, k + 1:])) / a[:, k, k]
    return x


def _newton(
    x: np.ndarray,
    design: _Design,
    wins: np.ndarray,
    ties: str,
    l2: float,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Damped Newton on a batch; returns (x, converged (B,), iterations)."""
    f, g, h = _evaluate(x, design, wins, ties, l2, order=2)
    converged = np.zeros(len(x), dtype=bool)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        assert g is not None and h is not None
        step = _solve_positive_definite(h, g)
        # Newton decrement g' H^-1 g: twice the predicted decrease of the objective.
        decrement = np.einsum("bi,bi->b", g, step)
        converged = decrement < tol
        if converged.all():
            break
        size = np.where(converged, 0.0, 1.0)
        for _ in range(60):
            candidate = x - size[:, None] * step
            f_new, _, _ = _evaluate(candidate, design, wins, ties, l2, order=0)
            worse = f_new > f + 1e-12 * np.abs(f)
            if not worse.any():
                break
            size = np.where(worse, 0.5 * size, size)
        x = candidate
        f, g, h = _evaluate(x, design, wins, ties, l2, order=2)
    return x, converged, n_iter


def _start(counts: PairCounts, ties: str, batch: int) -> np.ndarray:
    n = len(counts.systems)
    x = np.zeros((batch, n + (1 if ties == "davidson" else 0)))
    if ties == "davidson":
        # Start nu at the value that fits the observed share of ties for equal strengths.
        share = counts.wins[:, 2].sum() / max(counts.wins.sum(), 1.0)
        share = min(max(share, 1e-3), 0.999)
        x[:, n] = np.log(2.0 * share / (1.0 - share))
    return x


def fit_batch(
    counts: PairCounts,
    wins: np.ndarray,
    ties: TieModel = "davidson",
    l2: float = 0.0,
    start: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the model to many count tables over the same pairs at once.

    Args:
        counts: gives the systems and pairs (its own counts are not used).
        wins: ``(B, n_pairs, 3)`` counts per table (bootstrap resamples).
        ties: the tie model.
        l2: L2 penalty on the strengths.
        start: ``(n_params,)`` or ``(B, n_params)`` starting point (e.g. the fit on the full
            data); default zeros.
        tol: stop when the Newton decrement is below this.
        max_iter: most Newton iterations.

    Returns:
        ``(strengths (B, n_systems), tie_param (B,) or NaN, converged (B,) bool)``. Tables
        without finite maximum-likelihood strengths (see :func:`mle_exists`) are marked not
        converged.
    """
    _check_ties(ties)
    wins = np.asarray(wins, dtype=float)
    batch = wins.shape[0]
    n = len(counts.systems)
    if start is None:
        x0 = _start(counts, ties, batch)
    else:
        x0 = np.broadcast_to(np.asarray(start, dtype=float), (batch, n + (ties == "davidson")))
        x0 = x0.copy()
    exists = np.ones(batch, dtype=bool) if l2 > 0 else _strongly_connected(counts, wins, ties)
    x = x0
    converged = np.zeros(batch, dtype=bool)
    if exists.any():
        x_fit, conv_fit, _ = _newton(
            x0[exists], _Design.of(counts), wins[exists], ties, l2, tol, max_iter
        )
        x[exists] = x_fit
        converged[exists] = conv_fit
    nu = np.exp(x[:, n]) if ties == "davidson" else np.full(batch, np.nan)
    return x[:, :n], nu, converged


def fit_bradley_terry(
    counts: PairCounts,
    ties: TieModel = "davidson",
    l2: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> BradleyTerryFit:
    """Maximum-likelihood Bradley-Terry strengths from outcome counts per pair.

    Args:
        counts: outcome counts per pair (:func:`~accord.rankings.battles.count_battles`).
        ties: ``"half"`` (a tie is half a win each), ``"drop"`` or ``"davidson"``.
        l2: L2 penalty on the strengths (Gaussian prior of variance ``1 / l2``); needed when
            a system never loses or never wins.
        tol: stop when the Newton decrement is below this.
        max_iter: most Newton iterations.

    Raises:
        AccordError: there are no battles, the systems fall into groups that never met, the
            strengths are infinite (a system never loses) and ``l2`` is 0, Davidson ties were
            asked for but there is no tie (or nothing but ties), or Newton did not converge.
    """
    _check_ties(ties)
    if l2 < 0:
        raise ConfigError(f"l2 must be >= 0, got {l2}")
    wins = counts.wins
    if ties == "drop":
        n_ties = int(wins[:, 2].sum())
        if n_ties:
            logger.info("Bradley-Terry: %d tie(s) dropped (ties='drop')", n_ties)
    n_used = int(round(float(sum(part.sum() for part in _split_counts(wins, ties)))))
    if n_used == 0:
        raise AccordError("Bradley-Terry: no battles to fit")
    n = len(counts.systems)
    pair_graph = csr_matrix((np.ones(len(counts.left)), (counts.left, counts.right)), shape=(n, n))
    n_groups, _ = connected_components(pair_graph, directed=False)
    if n_groups > 1 and l2 == 0:
        raise AccordError(
            f"Bradley-Terry: the {n} systems fall into {n_groups} groups that never battled each "
            "other, so their strengths cannot be compared; add battles between the groups or "
            "set l2 > 0"
        )
    if ties == "davidson":
        n_tie = wins[:, 2].sum()
        if n_tie == 0 or n_tie == wins.sum():
            raise AccordError(
                "Bradley-Terry with Davidson ties needs both ties and decisive battles, got "
                f"{int(n_tie)} tie(s) in {int(wins.sum())} battles; use ties='half' or 'drop'"
            )
    if not mle_exists(counts, ties, l2):
        raise AccordError(
            "Bradley-Terry: some systems never lose (or never win) against the rest, so their "
            "maximum-likelihood strength is infinite; set l2 > 0 (e.g. 0.01) for a small prior"
        )
    x, converged, n_iter = _newton(
        _start(counts, ties, 1), _Design.of(counts), wins[None], ties, l2, tol, max_iter
    )
    if not converged[0]:
        raise AccordError(f"Bradley-Terry: Newton's method did not converge in {max_iter} steps")
    theta = x[0, :n]
    penalty_free = _evaluate(x, _Design.of(counts), wins[None], ties, 0.0, order=0)[0][0]
    log_likelihood = -float(penalty_free) + 0.5 * float(theta.sum() ** 2)
    return BradleyTerryFit(
        systems=counts.systems,
        strengths=theta - theta.mean(),
        tie_param=float(np.exp(x[0, n])) if ties == "davidson" else None,
        ties=ties,
        l2=l2,
        log_likelihood=log_likelihood,
        n_iter=n_iter,
        n_battles=n_used,
    )
