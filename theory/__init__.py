"""Symbolic, high-precision and Monte Carlo verifier for the NTK of randomly pruned MLPs
(Yang & Wang, AISTATS 2023). See README.md and docs/math.md for conventions.

Public API (stable)::

    arch = theory.Architecture(depth=3, activation="relu", p=0.5, rescale=False,
                               pruned="all", model="mask")
    theory.limit_ntk(arch, X, input_layer="exact")    # (n, n) float64
    theory.limit_nngp(arch, X, input_layer="exact")
    theory.empirical_ntk(arch, X, width=1024, seed=0)
    theory.scaling_factor(arch)                       # sympy.Expr or None (wide-input recursion)
    theory.factor_structure(arch)                     # ... with its reason and label, any depth
    theory.log_ntk(arch, X)                           # (sign, log|K|) for very deep nets
    theory.__version__
"""
from ._version import __version__
from .architecture import Architecture
from .activations import Activation, get_activation, ACTIVATION_NAMES
from .backends import NUMPY, SympyBackend, mpmath_backend
from .limits import limit_kernels, limit_ntk, limit_nngp
from .limits import LimitResult, limit_result, stream_gram  # data-set scale (issue 11)
from .scaling import derive_scaling_factor, factor_structure, scaling_factor, symbolic_ntk
from .numerics import KernelUnderflowWarning, log_ntk

try:  # the finite network lives beside the kernel maps (theory.network)
    from .network import empirical_ntk, empirical_nngp, sample_kernels
except ImportError:  # pragma: no cover - during bootstrap only
    pass

__all__ = [
    "Architecture", "Activation", "get_activation", "ACTIVATION_NAMES",
    "limit_ntk", "limit_nngp", "limit_kernels", "empirical_ntk", "empirical_nngp",
    "sample_kernels", "scaling_factor", "derive_scaling_factor", "symbolic_ntk",
    "factor_structure", "log_ntk", "KernelUnderflowWarning", "__version__",
    "LimitResult", "limit_result", "stream_gram",
]
