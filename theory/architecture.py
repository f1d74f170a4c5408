"""Validated, immutable description of a (randomly pruned) fully-connected network.

Convention (docs/math.md#network, Arora et al. 2019): ``depth = L`` hidden layers, hence ``L + 1``
weight matrices ``W^(1) … W^(L+1)``; matrix index ``h`` in this module is *0-based*
(``0`` = input matrix ``W^(1)``, ``L`` = output matrix ``W^(L+1)``), matching the ``p``
sequence.

Per matrix ``h`` the architecture derives (docs/math.md#pruning):

* ``p_h``     pruning probability (0 for an unpruned matrix), ``q_h = 1 - p_h``;
* ``alpha_h`` forward multiplier of the kept weights' variance: ``1/q_h`` when rescaled,
  else ``1``;
* ``s_h = alpha_h q_h``  the effective weight variance seen by the forward pass in the
  wide limit;
* ``G_h``     the factor the gradient step itself contributes to layer ``h``'s NTK term:
  ``s_h`` for hard masks (model ``"mask"``: the sum over a row's weights only runs over
  the kept ones), ``1`` for the variance model (model ``"variance"``: every weight of the
  layer is Gaussian with variance ``s_h`` and trainable).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

import sympy

PRUNED_SPECS = ("all", "hidden", "all_but_input", "all_but_output", "none")
MODELS = ("mask", "variance")

PLike = Union[float, int, sympy.Expr]


def _is_symbolic(x: Any) -> bool:
    return isinstance(x, sympy.Basic) and not x.is_number


def _check_p(value: Any, name: str) -> PLike:
    """Validate one pruning probability: a real number in [0, 1) or a sympy expression."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number in [0, 1), got bool {value!r}")
    if isinstance(value, sympy.Basic):
        if value.is_number:
            v = float(value)
            if not (0.0 <= v < 1.0):
                raise ValueError(f"{name} must lie in [0, 1), got {value}")
            return sympy.nsimplify(value) if value.is_Rational else value
        return value  # a symbol: its range is assumed to be [0, 1)
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1), got {type(value).__name__}")
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number in [0, 1), got {value!r}")
    if not (0.0 <= v < 1.0):
        raise ValueError(f"{name} must lie in [0, 1) (fraction of weights removed), got {value!r}")
    return value


@dataclass(frozen=True)
class Architecture:
    """A bias-free MLP in the Arora et al. parametrisation, with random pruning.

    Parameters
    ----------
    depth:
        number of hidden layers ``L >= 0`` (``L + 1`` weight matrices).
    activation:
        ``"relu"``, ``"erf"``, ``"relu2"`` (ReLU squared), ``"tanh"``, ``"gelu"``,
        ``"sigmoid"``, ``"softplus"`` (case-insensitive), an
        :class:`theory.activations.Activation`, or a callable ``σ`` (its derivative may be
        given as ``activation_derivative``; otherwise it is taken numerically).
    p:
        pruning probability in ``[0, 1)``: a scalar applied to every pruned matrix, or a
        sequence of ``depth + 1`` values (``p[0]`` for the input matrix ``W^(1)`` …
        ``p[depth]`` for the output matrix). sympy symbols are allowed (symbolic use only).
    pruned:
        which matrices carry masks: ``"all"`` (default), ``"hidden"`` (``W^(2)…W^(L)``),
        ``"all_but_input"``, ``"all_but_output"``, ``"none"``, or an iterable of 0-based
        matrix indices.
    rescale:
        multiply kept weights by ``1/sqrt(1 - p_h)`` (so ``s_h = 1``).
    model:
        ``"mask"`` (hard Bernoulli(1-p) masks, pruned weights frozen) or ``"variance"``
        (the pruned layer's weights are Gaussian with variance ``(1-p)·rescale`` and all
        trainable).
    """

    depth: int
    activation: Any = "relu"
    p: Any = 0.0
    rescale: bool = False
    pruned: Any = "all"
    model: str = "mask"
    activation_derivative: Callable | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        depth = self.depth
        if isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
            raise TypeError(f"depth must be a non-negative integer, got {depth!r}")
        if depth < 0:
            raise ValueError(f"depth must be a non-negative integer, got {depth}")
        object.__setattr__(self, "depth", int(depth))
        if not isinstance(self.rescale, (bool,)) and self.rescale not in (0, 1):
            raise TypeError(f"rescale must be a bool, got {self.rescale!r}")
        object.__setattr__(self, "rescale", bool(self.rescale))
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")

        n = self.depth + 1
        # which matrices are pruned
        spec = self.pruned
        if isinstance(spec, str):
            if spec not in PRUNED_SPECS:
                raise ValueError(
                    f"pruned must be one of {PRUNED_SPECS} or a collection of matrix indices "
                    f"0..{self.depth}, got {spec!r}")
            mask = {
                "all": [True] * n,
                "hidden": [0 < h < self.depth for h in range(n)],
                "all_but_input": [h != 0 for h in range(n)],
                "all_but_output": [h != self.depth for h in range(n)],
                "none": [False] * n,
            }[spec]
        else:
            try:
                idx = list(spec)
            except TypeError:
                raise TypeError(
                    f"pruned must be a string spec {PRUNED_SPECS} or an iterable of matrix "
                    f"indices, got {spec!r}") from None
            mask = [False] * n
            for i in idx:
                if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                    raise TypeError(f"pruned indices must be integers, got {i!r}")
                if not 0 <= i < n:
                    raise ValueError(f"pruned index {i} out of range 0..{self.depth}")
                mask[int(i)] = True
            spec = tuple(sorted({int(i) for i in idx}))
            object.__setattr__(self, "pruned", spec)

        # pruning probabilities
        p = self.p
        if isinstance(p, (str, bytes)):
            raise TypeError(f"p must be a number or a sequence of {n} numbers, got {p!r}")
        if isinstance(p, (numbers.Real, sympy.Basic)) and not isinstance(p, sympy.MatrixBase):
            ps = [_check_p(p, "p")] * n
        else:
            try:
                ps = list(p)
            except TypeError:
                raise TypeError(f"p must be a number or a sequence of {n} numbers, "
                                f"got {type(p).__name__}") from None
            if len(ps) != n:
                raise ValueError(f"p must have depth + 1 = {n} entries (one per weight matrix), "
                                 f"got {len(ps)}")
            ps = [_check_p(v, f"p[{h}]") for h, v in enumerate(ps)]
            for h, (v, m) in enumerate(zip(ps, mask)):
                if not m and not (not _is_symbolic(v) and float(v) == 0.0):
                    raise ValueError(
                        f"p[{h}] = {v} but matrix {h} is not in pruned={self.pruned!r}; "
                        f"set p[{h}] = 0 or include {h} in pruned")
            object.__setattr__(self, "p", tuple(ps))
        object.__setattr__(self, "_p_eff", tuple(v if m else 0 for v, m in zip(ps, mask)))
        object.__setattr__(self, "_mask", tuple(mask))

        from .activations import get_activation  # local import: activations imports nothing here
        object.__setattr__(self, "_act", get_activation(self.activation, self.activation_derivative))

    # ----------------------------------------------------------------- derived per matrix
    @property
    def n_matrices(self) -> int:
        return self.depth + 1

    @property
    def act(self):
        """The resolved :class:`theory.activations.Activation`."""
        return self._act

    @property
    def is_symbolic(self) -> bool:
        return any(_is_symbolic(v) for v in self._p_eff)

    def pruned_matrices(self) -> tuple[int, ...]:
        """0-based indices of matrices that carry a mask (``p_h > 0`` or symbolic)."""
        return tuple(h for h in range(self.n_matrices)
                     if self._mask[h] and (_is_symbolic(self._p_eff[h]) or float(self._p_eff[h]) > 0))

    def p_of(self, h: int) -> PLike:
        return self._p_eff[h]

    def q_of(self, h: int) -> PLike:
        return 1 - self._p_eff[h]

    def alpha_of(self, h: int) -> PLike:
        """Forward variance multiplier of matrix ``h``: ``1/q_h`` when rescaled, else 1."""
        return 1 / self.q_of(h) if (self.rescale and h in self.pruned_matrices()) else 1

    def s_of(self, h: int) -> PLike:
        """Effective forward weight variance ``s_h = alpha_h q_h`` (docs/math.md#pruning)."""
        if h not in self.pruned_matrices():
            return 1
        return 1 if self.rescale else self.q_of(h)

    def grad_factor_of(self, h: int) -> PLike:
        """``G_h``: ``s_h`` under hard masks, ``1`` under the variance model (docs/math.md#pruning)."""
        return self.s_of(h) if self.model == "mask" else 1

    def dense(self) -> "Architecture":
        """The same network without pruning (``p = 0``)."""
        return Architecture(depth=self.depth, activation=self.act, p=0.0, rescale=False,
                            pruned="none", model=self.model)

    def with_(self, **changes: Any) -> "Architecture":
        kw = dict(depth=self.depth, activation=self.activation, p=self.p, rescale=self.rescale,
                  pruned=self.pruned, model=self.model,
                  activation_derivative=self.activation_derivative)
        kw.update(changes)
        return Architecture(**kw)

    def describe(self) -> dict:
        """A JSON-friendly summary."""
        return {
            "depth": self.depth,
            "activation": self.act.name,
            "p": [str(v) if _is_symbolic(v) else float(v) for v in self._p_eff],
            "pruned_matrices": list(self.pruned_matrices()),
            "rescale": self.rescale,
            "model": self.model,
        }
