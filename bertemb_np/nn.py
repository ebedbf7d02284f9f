"""The modules that hold one weight each, like torch.nn's: Embedding, LayerNorm, Linear.

Each keeps a read-only copy of its weights, checked (shape, dtype) when set, so that nothing
derived from a weight can go stale: to change a weight, assign a new array. Each computes with
functional.py's math. The family's embedding layer (modules.py) is made of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import as_array, check_ids, check_weight, is_integer
from .config import integer_at_least, is_number
from .functional import embedding, layer_norm, linear

__all__ = ["Embedding", "LayerNorm", "Linear", "Weights"]


class Weights:
    """The weight contract of every module: each weight is checked (shape, dtype) and copied
    when set, and read-only after, so tables derived from it can never go stale."""

    name: str
    weight: np.ndarray  # every module has one
    weight_names: tuple[str, ...]  # the weights it holds, by attribute name

    def as_input(self, x: npt.ArrayLike, width: int) -> np.ndarray:
        """x as an array of the weights' dtype, after checking that it is numbers and that its
        last axis is `width`."""
        array = as_array(x, f"the input of {self.name}")
        if not (np.issubdtype(array.dtype, np.floating) or is_integer(array.dtype)):
            raise TypeError(f"{self.name} expects numbers, got dtype {array.dtype}")
        array = array.astype(self.weight.dtype, copy=False)
        if array.ndim == 0 or array.shape[-1] != width:
            raise ValueError(f"{self.name} expects [..., {width}], got shape {array.shape}")
        return array

    def _set(self, name: str, value: npt.ArrayLike | None, shape: tuple[int, ...] | int,
             dtype: npt.DTypeLike | None, optional: bool = False) -> None:
        """Keep a read-only copy of `value` as weight `name`. shape: the shape it must have, or
        for a new module's own weight, how many axes; None only where `optional` (a bias)."""
        if value is None:
            if not optional:
                raise TypeError(f"{self.name}.{name} must be an array, got None")
            setattr(self, "_" + name, None)
            return
        if isinstance(shape, int) and np.ndim(value) != shape:
            raise ValueError(f"{self.name}.{name} must have {shape} axes, "
                             f"got shape {np.shape(value)}")
        wanted = np.shape(value) if isinstance(shape, int) else shape
        setattr(self, "_" + name, check_weight(f"{self.name}.{name}", value, wanted,
                                               dtype or np.asarray(value).dtype))


def weight_property(name: str, doc: str) -> Any:
    """A weight attribute: read as is; assigned through the contract (same shape, same dtype).
    A property, typed Any so that the class's annotation of the attribute gives its type."""

    def get(self: Weights) -> np.ndarray | None:
        return getattr(self, "_" + name)

    def set(self: Weights, value: npt.ArrayLike) -> None:
        old = getattr(self, "_" + name)
        if old is None:
            raise ValueError(f"{self.name} has no {name} (this model's {self.name} is made without one)")
        self._set(name, value, old.shape, old.dtype)  # None refused: a weight stays a weight

    return property(get, set, doc=doc)


class Embedding(Weights):
    """A lookup table like `torch.nn.Embedding`: row i of `weight` is the vector of id i."""

    weight: np.ndarray = weight_property("weight", "[rows, E]: row i is the vector of id i")
    weight_names = ("weight",)

    def __init__(self, weight: npt.ArrayLike, name: str = "embedding",
                 padding_idx: int | None = None, dtype: npt.DTypeLike | None = None) -> None:
        self.name = name  # for messages: "word_embeddings", ...
        self._set("weight", weight, 2, dtype)  # [rows, E]
        self.padding_idx = padding_idx

    @property
    def padding_idx(self) -> int | None:
        """The row that gets no gradient, as in PyTorch (the pad token's), or None."""
        return self._padding_idx

    @padding_idx.setter
    def padding_idx(self, value: int | None) -> None:
        if value is not None and not (integer_at_least(value, 0) and value < len(self.weight)):
            raise ValueError(f"{self.name}.padding_idx must be None or a row of its "
                             f"{len(self.weight)}-row table, got {value!r}")
        self._padding_idx = None if value is None else int(value)

    def __call__(self, ids: npt.ArrayLike) -> np.ndarray:
        checked = check_ids(ids, len(self.weight), f"ids for {self.name}")
        return embedding(self.weight, checked)  # [...] -> [..., E]

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.weight.shape[0]}, {self.weight.shape[1]}{pad})"


class LayerNorm(Weights):
    """Layer normalization over the last axis, like `torch.nn.LayerNorm(H, eps, bias=...)`."""

    weight: np.ndarray = weight_property("weight", "[H], the scale (gamma in old checkpoints)")
    bias: np.ndarray | None = weight_property("bias", "[H], the shift (beta); None: ModernBERT's")
    weight_names = ("weight", "bias")

    def __init__(self, weight: npt.ArrayLike, bias: npt.ArrayLike | None, eps: float,
                 name: str = "LayerNorm", dtype: npt.DTypeLike | None = None) -> None:
        self.name, self.eps = name, eps
        self._set("weight", weight, 1, dtype)  # [H]
        self._set("bias", bias, self.weight.shape, self.weight.dtype, optional=True)

    @property
    def eps(self) -> float:
        """Added to the variance inside the square root: a finite number >= 0."""
        return self._eps

    @eps.setter
    def eps(self, value: float) -> None:
        if not is_number(value) or not 0 <= value < np.inf:
            raise ValueError(f"{self.name}.eps must be a finite number >= 0, got {value!r}")
        self._eps = float(value)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        return layer_norm(self.as_input(x, len(self.weight)), self.weight, self.bias,
                          self.eps)  # [..., H] -> [..., H]

    def __repr__(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        return f"LayerNorm(({len(self.weight)},), eps={self.eps}{bias})"


class Linear(Weights):
    """y = x W^T + b, like `torch.nn.Linear(E, H, bias=...)`: the projections from E to H."""

    weight: np.ndarray = weight_property("weight", "[H, E]")
    bias: np.ndarray | None = weight_property("bias", "[H], or None")
    weight_names = ("weight", "bias")

    def __init__(self, weight: npt.ArrayLike, bias: npt.ArrayLike | None, name: str = "linear",
                 dtype: npt.DTypeLike | None = None) -> None:
        self.name = name
        self._set("weight", weight, 2, dtype)  # [H, E]
        self._set("bias", bias, self.weight.shape[:1], self.weight.dtype, optional=True)

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        return linear(self.as_input(x, self.weight.shape[1]), self.weight,
                      self.bias)  # [..., E] -> [..., H]

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
                f"bias={self.bias is not None})")
