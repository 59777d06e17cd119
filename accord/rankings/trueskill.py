"""TrueSkill-style Bayesian ratings through the ``openskill`` package.

openskill implements Weng & Lin (2011), "A Bayesian approximation method for online ranking"
(JMLR 12): every system has a Gaussian belief ``N(mu, sigma^2)`` about its skill, updated after
each battle; a tie is a draw (equal ranks). Like Elo it reads battles in order. ``ordinal()`` is
openskill's conservative skill ``mu - 3 * sigma``.

On accord's Elo-like scale: openskill predicts that ``a`` beats ``b`` with probability
``Phi((mu_a - mu_b) / sqrt(2 * beta^2 + sigma_a^2 + sigma_b^2))`` (``Phi`` the normal CDF).
For small ``sigma`` this is a probit model with unit ``sqrt(2) * beta``; a probit unit is
about 1.702 logits (Haley 1952, the logistic approximation of the normal CDF), so ``mu`` becomes
Elo points by the factor ``1.702 * 400 / ln(10) / (sqrt(2) * beta)``, and so does ``sigma``.
The conversion is an approximation and is named in the signature.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
from openskill.models import (
    BradleyTerryFull,
    PlackettLuce,
    ThurstoneMostellerFull,
)

from accord.errors import ConfigError
from accord.rankings.battles import encode_battles
from accord.rankings.scale import ELO_PER_LOGIT

logger = logging.getLogger(__name__)

#: accord's names for the openskill models it offers.
OPENSKILL_MODELS: dict[str, Any] = {
    "thurstone-mosteller": ThurstoneMostellerFull,
    "plackett-luce": PlackettLuce,
    "bradley-terry": BradleyTerryFull,
}

#: Logits per probit unit (Haley 1952).
LOGIT_PER_PROBIT = 1.702

#: openskill's ranks for each outcome code (0 = a wins, 1 = b wins, 2 = tie): lower wins.
_RANKS = ([1, 2], [2, 1], [1, 1])


@dataclass(frozen=True)
class OpenSkillResult:
    """Ratings from one pass of an openskill model over the battles.

    Attributes:
        systems: system names, the order of every array.
        mu: ``(n_systems,)`` posterior mean skill, openskill's units.
        sigma: ``(n_systems,)`` posterior standard deviation, openskill's units.
        ordinal: ``(n_systems,)`` openskill's ``mu - 3 * sigma``.
        model: accord's name of the openskill model.
        beta: the model's performance noise; sets the conversion to Elo points.
        options: the keyword arguments the model was built with.
    """

    systems: tuple[str, ...]
    mu: np.ndarray
    sigma: np.ndarray
    ordinal: np.ndarray
    model: str
    beta: float
    options: dict[str, Any]

    @property
    def elo_per_unit(self) -> float:
        """Elo points per unit of ``mu`` (see the module docstring)."""
        return LOGIT_PER_PROBIT * ELO_PER_LOGIT / (math.sqrt(2.0) * self.beta)


def make_model(model: str = "thurstone-mosteller", options: Mapping[str, Any] | None = None
               ) -> Any:
    """Build the openskill model called ``model`` with keyword ``options`` (e.g. ``beta``)."""
    if model not in OPENSKILL_MODELS:
        raise ConfigError(
            f"openskill model must be one of {', '.join(OPENSKILL_MODELS)}, got {model!r}"
        )
    return OPENSKILL_MODELS[model](**dict(options or {}))


def openskill_ratings(
    battles: pd.DataFrame,
    systems: Sequence[str] | None = None,
    model: str = "thurstone-mosteller",
    options: Mapping[str, Any] | None = None,
) -> OpenSkillResult:
    """Rate the systems by feeding the battles, in table order, to an openskill model.

    Args:
        battles: a battle table (see :mod:`accord.rankings.battles`).
        systems: the systems to rate (default: all in the table, sorted).
        model: ``"thurstone-mosteller"`` (ThurstoneMostellerFull), ``"plackett-luce"`` or
            ``"bradley-terry"`` (BradleyTerryFull).
        options: keyword arguments for the model (``mu``, ``sigma``, ``beta``, ``tau``, ...).
    """
    names, a, b, outcome = encode_battles(battles, systems)
    engine = make_model(model, options)
    current = [engine.rating(name=name) for name in names]
    for ia, ib, code in zip(a.tolist(), b.tolist(), outcome.tolist()):
        [new_a], [new_b] = engine.rate([[current[ia]], [current[ib]]], ranks=list(_RANKS[code]))
        current[ia], current[ib] = new_a, new_b
    return OpenSkillResult(
        systems=names,
        mu=np.array([r.mu for r in current]),
        sigma=np.array([r.sigma for r in current]),
        ordinal=np.array([r.ordinal() for r in current]),
        model=model,
        beta=float(engine.beta),
        options=dict(options or {}),
    )


def openskill_version() -> str:
    return version("openskill")
