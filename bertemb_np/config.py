"""The embedding layer's configuration, read from a checkpoint's config.json through its family's spec.

Reference: transformers' `BertConfig` (configuration_bert.py, v5.24.0) and each family's config
class. The family's spec (specs.py) says under which names config.json keeps each field and
what transformers assumes when it is missing; a real file's values always win.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .specs import FamilySpec, spec_for_config, spec_for_model_type

__all__ = ["BertConfig", "EmbeddingConfig", "integer_at_least", "is_number"]


def is_number(value) -> bool:
    """Whether value is a real number: a Python or NumPy int or float, not a bool (nor "1e-5")."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def integer_at_least(value, low: int) -> bool:
    """Whether value is an integer (a Python or NumPy int, not a bool or a float) >= `low`."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low


@dataclass(frozen=True)
class EmbeddingConfig:
    """The fields of config.json that the embedding layer uses, with why each one matters.

    The defaults are BERT's; `from_json_file` fills them for any family of specs.py.
    """

    vocab_size: int = 30522  # rows of word_embeddings: one per token id
    hidden_size: int = 768  # H, the encoder's width: the output's, unless E differs (below)
    max_position_embeddings: int = 512  # rows of position_embeddings: bounds the input length
    type_vocab_size: int = 2  # rows of token_type_embeddings: sentence A, B; 0: no such table
    layer_norm_eps: float = 1e-12  # added to the variance inside the sqrt (1e-5 RoBERTa, 1e-7 DeBERTa)
    pad_token_id: int | None = 0  # padding_idx: its rows get no gradient; RoBERTa counts from it
    hidden_dropout_prob: float = 0.1  # dropout after LayerNorm, in training only
    position_embedding_type: str = "absolute"  # the spec maps it to a position rule, or to none
    model_type: str = "bert"  # which family's spec (specs.py) this layer follows
    embedding_size: int | None = None  # E, the tables' width, when not H (ALBERT, ELECTRA, DeBERTa)
    layer_norm_bias: bool = True  # ModernBERT's LayerNorm has no bias
    sinusoidal_pos_embds: bool = False  # DistilBERT: without a stored table, the sin/cos formula's

    def __post_init__(self):
        for name in ("model_type", "position_embedding_type"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"config field {name} must be a string, got {getattr(self, name)!r}")
        for name in ("layer_norm_bias", "sinusoidal_pos_embds"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"config field {name} must be true or false, "
                                f"got {getattr(self, name)!r}")
        spec = self.spec  # raises for a model_type outside the family
        for name in ("vocab_size", "hidden_size", "max_position_embeddings", "type_vocab_size"):
            low = 0 if name == "type_vocab_size" else 1  # 0 token types: no such table
            if not integer_at_least(getattr(self, name), low):
                raise ValueError(f"config field {name} must be an integer >= {low}, "
                                 f"got {getattr(self, name)!r}")
        if not integer_at_least(self.E, 1):
            raise ValueError(f"config field embedding_size must be a positive integer, got {self.E!r}")
        eps = self.layer_norm_eps
        if not is_number(eps) or not 0 <= eps < math.inf:
            raise ValueError(f"config field layer_norm_eps must be a finite number >= 0, got {eps!r}")
        pad = self.pad_token_id
        if pad is not None and (isinstance(pad, bool) or not isinstance(pad, int)):
            raise ValueError(f"config field pad_token_id must be an integer or null, got {pad!r}")
        if pad is not None and not 0 <= pad < self.vocab_size:
            raise ValueError(f"config field pad_token_id={pad} is not a row of the "
                             f"{self.vocab_size}-row word_embeddings")
        p = self.hidden_dropout_prob
        if not is_number(p) or not 0 <= p <= 1:
            raise ValueError(f"config field hidden_dropout_prob must be a number in [0, 1], got {p!r}")
        if self.position_embedding_type not in spec.positions:
            raise ValueError(f"position_embedding_type {self.position_embedding_type!r} is not "
                             f"supported for model_type {self.model_type!r}: supported are "
                             f"{', '.join(map(repr, spec.positions))}")
        if spec.position_rule(self) == "from_padding" and pad is None:
            raise ValueError(f"model_type {self.model_type!r} numbers positions after pad_token_id, "
                             "but config.json has none")

    @property
    def spec(self) -> FamilySpec:
        return spec_for_model_type(self.model_type)

    @property
    def E(self) -> int:
        """The width of the tables: embedding_size if the family has one, else hidden_size."""
        return self.hidden_size if self.embedding_size is None else self.embedding_size

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "EmbeddingConfig":
        """Read config.json through its family's spec. Fields the layer does not use are ignored."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not valid UTF-8 JSON: {e}") from e
        except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: nested too deep
            raise ValueError(f"{path} is not valid JSON: {type(e).__name__}: {e}") from e
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{path}: {e}") from e

    @classmethod
    def from_dict(cls, data: dict) -> "EmbeddingConfig":
        """The config of a config.json's content: model_type (else architectures) picks the spec.
        An error names the field as config.json spells it (DistilBERT's dim, not hidden_size)."""
        if not isinstance(data, dict):
            raise TypeError(f"config must be a dict (config.json's object), got {type(data).__name__}")
        spec, model_type = spec_for_config(data)
        values, spelled = {}, {}
        for name, where in spec.fields.items():
            key = next((key for key in where.names if key in data), None)
            value, spelled[name] = (where.default, name) if key is None else (data[key], key)
            if where.meaning is not None:
                if not isinstance(value, (bool, str, int, float)) or value not in where.meaning:
                    raise ValueError(f"config field {spelled[name]} must be one of "
                                     f"{sorted(map(repr, where.meaning))}, got {value!r}")
                value = where.meaning[value]
            values[name] = value
        try:
            return cls(model_type=model_type, **values)
        except (ValueError, TypeError) as e:
            field = next((name for name in spelled if f"config field {name} " in str(e)), None)
            if field is None or spelled[field] == field:
                raise
            message = str(e).replace(f"config field {field} ", f"config field {spelled[field]} ")
            raise type(e)(message) from e

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each weight of the layer (projection for the encoder excepted), by our name."""
        spec, V, H, E = self.spec, self.vocab_size, self.hidden_size, self.E
        shapes = {f"{spec.word}.weight": (V, E)}
        if spec.position_rule(self) is not None:
            shapes["position_embeddings.weight"] = (self.max_position_embeddings, E)
        if self.type_vocab_size > 0:
            shapes["token_type_embeddings.weight"] = (self.type_vocab_size, E)
        projection = spec.projection
        if projection is not None and projection.where == "before_norm" and E != H:
            shapes[f"{projection.name}.weight"] = (H, E)
        width = H if projection is not None and projection.where == "before_norm" else E
        shapes[f"{spec.norm}.weight"] = (width,)
        if self.layer_norm_bias:
            shapes[f"{spec.norm}.bias"] = (width,)
        return shapes

    def projection_shapes(self) -> dict[str, tuple[int, ...]]:
        """The encoder-input projection's weights (ALBERT, ELECTRA with E != H), else {}."""
        projection = self.spec.projection
        if projection is None or projection.where != "encoder_input" or self.E == self.hidden_size:
            return {}
        shapes = {f"{projection.name}.weight": (self.hidden_size, self.E)}
        if projection.bias:
            shapes[f"{projection.name}.bias"] = (self.hidden_size,)
        return shapes


BertConfig = EmbeddingConfig  # the name transformers gives BERT's; the defaults above are BERT's
