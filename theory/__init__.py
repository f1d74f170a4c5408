"""Symbolic, high-precision and Monte Carlo verifier for the NTK of randomly pruned MLPs."""
from .architecture import Architecture
from .activations import Activation, get_activation
