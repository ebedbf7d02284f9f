"""The embedding layer's configuration, read from a checkpoint's config.json through its family's spec.

Reference: transformers' `BertConfig` (configuration_bert.py, v5.24.0) and each family's config
class. The family's spec (specs.py) says under which names config.json keeps each field and
what transformers assumes when it is missing; a real file's values always win.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .specs import FamilySpec, spec_for_config, spec_for_model_type

__all__ = ["BertConfig", "EmbeddingConfig", "integer_at_least", "is_number"]


def is_number(value: object) -> bool:
    """Whether value is a real number: a Python or NumPy int or float, not a bool (nor "1e-5")."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def integer_at_least(value: object, low: int) -> bool:
    """Whether value is an integer (a Python or NumPy int, not a bool or a float) >= `low`."""
    return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            and bool(value >= low))  # bool: a NumPy int compares to a numpy.bool


class ModelTypeDefault:
    """The value of a field not given: its model type's default, transformers' config class's
    (specs.py), as AlbertConfig() has AlbertConfig's and not BertConfig's."""

    def __repr__(self) -> str:
        return "<the model type's default>"


# Typed Any: it stands in for a field of any type, until __post_init__ puts the default there.
DEFAULT: Any = ModelTypeDefault()
SIZES = ("vocab_size", "hidden_size", "embedding_size", "max_position_embeddings",
         "type_vocab_size")  # the fields the checkpoint's shapes confirm


@dataclass(frozen=True)
class EmbeddingConfig:
    """The fields of config.json that the embedding layer uses, with why each one matters.

    A field left out takes model_type's default (BERT's for the model_type "bert" below):
    transformers' config class's, from specs.py. `from_json_file` reads config.json's names.
    """

    vocab_size: int = DEFAULT  # rows of word_embeddings: one per token id
    hidden_size: int = DEFAULT  # H, the encoder's width: the output's, unless E differs (below)
    max_position_embeddings: int = DEFAULT  # rows of position_embeddings: bounds the input length
    type_vocab_size: int = DEFAULT  # rows of token_type_embeddings: sentence A, B; 0: no table
    layer_norm_eps: float = DEFAULT  # added to the variance in the sqrt (1e-7 DeBERTa)
    pad_token_id: int | None = DEFAULT  # padding_idx: rows get no gradient; RoBERTa counts from it
    hidden_dropout_prob: float = DEFAULT  # dropout after LayerNorm, in training only
    position_embedding_type: str = DEFAULT  # the spec maps it to a position rule, or to none
    model_type: str = "bert"  # the family's spec (specs.py) this layer follows, and its defaults
    embedding_size: int | None = DEFAULT  # E, the tables' width if not H (ALBERT, ELECTRA, DeBERTa)
    layer_norm_bias: bool = DEFAULT  # ModernBERT's LayerNorm has no bias
    sinusoidal_pos_embds: bool = DEFAULT  # DistilBERT: with no stored table, the sin/cos formula's

    def __post_init__(self) -> None:
        if not isinstance(self.model_type, str):
            raise TypeError(f"config field model_type must be a string, got {self.model_type!r}")
        spec = self.spec  # raises for a model_type outside the family
        for name, field in spec.fields[self.model_type].items():
            if getattr(self, name) is DEFAULT:
                default = field.default if field.meaning is None else field.meaning[field.default]
                object.__setattr__(self, name, default)
            elif not field.names and getattr(self, name) != field.default:
                raise ValueError(f"config field {name}={getattr(self, name)!r} cannot be set: "
                                 f"model_type {self.model_type!r} fixes it at {field.default!r}")
        self.check()

    def check(self) -> None:
        """Refuse values the layer cannot use, each naming its config field."""
        spec = self.spec
        if not isinstance(self.position_embedding_type, str):
            raise TypeError(f"config field position_embedding_type must be a string, "
                            f"got {self.position_embedding_type!r}")
        for name in ("layer_norm_bias", "sinusoidal_pos_embds"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"config field {name} must be true or false, "
                                f"got {getattr(self, name)!r}")
        for name in ("vocab_size", "hidden_size", "max_position_embeddings", "type_vocab_size"):
            low = 0 if name == "type_vocab_size" else 1  # 0 token types: no such table
            if not integer_at_least(getattr(self, name), low):
                raise ValueError(f"config field {name} must be an integer >= {low}, "
                                 f"got {getattr(self, name)!r}")
        if not integer_at_least(self.E, 1):
            raise ValueError(f"config field embedding_size must be a positive integer, "
                             f"got {self.E!r}")
        if self.type_vocab_size == 0 and spec.token_types and not spec.type_table_optional:
            raise ValueError(f"config field type_vocab_size 0 leaves {spec.class_name} no token "
                             "type to look up: its forward adds one to every token (use 1)")
        eps = self.layer_norm_eps
        if not is_number(eps) or not 0 <= eps < math.inf:
            raise ValueError(f"config field layer_norm_eps must be a finite number >= 0, "
                             f"got {eps!r}")
        pad = self.pad_token_id
        if pad is not None and (isinstance(pad, bool) or not isinstance(pad, int)):
            raise ValueError(f"config field pad_token_id must be an integer or null, got {pad!r}")
        if pad is not None and not 0 <= pad < self.vocab_size:
            raise ValueError(f"config field pad_token_id={pad} is not a row of the "
                             f"{self.vocab_size}-row word_embeddings")
        p = self.hidden_dropout_prob
        if not is_number(p) or not 0 <= p <= 1:
            raise ValueError(f"config field hidden_dropout_prob must be a number in [0, 1], "
                             f"got {p!r}")
        if self.position_embedding_type not in spec.positions:
            raise ValueError(f"position_embedding_type {self.position_embedding_type!r} is not "
                             f"supported for model_type {self.model_type!r}: supported are "
                             f"{', '.join(map(repr, spec.positions))}")
        if spec.position_rule(self) == "from_padding":
            if pad is None:
                raise ValueError(f"model_type {self.model_type!r} numbers positions after "
                                 "pad_token_id, but config.json has none")
            if pad + 1 >= self.max_position_embeddings:
                raise ValueError(
                    f"config fields pad_token_id={pad} and max_position_embeddings="
                    f"{self.max_position_embeddings} leave no position for a token: model_type "
                    f"{self.model_type!r} numbers tokens from pad_token_id + 1 = {pad + 1}, past "
                    f"the table's last row {self.max_position_embeddings - 1}")

    @property
    def spec(self) -> FamilySpec:
        return spec_for_model_type(self.model_type)

    @property
    def E(self) -> int:
        """The width of the tables: embedding_size if the family has one, else hidden_size."""
        return self.hidden_size if self.embedding_size is None else self.embedding_size

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> EmbeddingConfig:
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
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingConfig:
        """The config of a config.json's content, read as its model type's transformers config
        class reads it: model_type (else architectures) picks the spec; each field comes from
        the first of its names present, else is that class's default. An error names the field
        as config.json spells it (DistilBERT's dim, not hidden_size), or says it was a default."""
        if not isinstance(data, dict):
            raise TypeError(f"config must be a dict (config.json's object), got {type(data).__name__}")
        spec, model_type = spec_for_config(data)
        values: dict[str, Any] = {}  # config.json's values, checked by __post_init__
        spelled: dict[str, str] = {}
        for name, field in spec.fields[model_type].items():
            key = next((key for key in field.names if key in data), None)
            remote = next((key for key in field.remote if key in data), None)
            if key is None and remote is not None:
                if name in SIZES or data[remote] == field.default:  # the weights confirm sizes
                    key = remote
                else:
                    raise ValueError(
                        f"config field {remote}={data[remote]!r} is the model's own code's name "
                        f"for {name}, which transformers 5.24 does not read: it uses "
                        f"{field.names[0]}, default {field.default!r}. Give {field.names[0]} to "
                        "say which")
            if key is None:
                continue  # the model type's default: filled in by __post_init__
            value, spelled[name] = data[key], key
            if value is None and not field.nullable:
                raise ValueError(f"config field {key} must not be null")
            if field.meaning is not None:
                if not any(type(value) is type(k) and value == k for k in field.meaning):
                    raise ValueError(f"config field {key} must be one of "
                                     f"{sorted(map(repr, field.meaning))}, got {value!r}")
                value = field.meaning[value]
            values[name] = value
        try:
            return cls(model_type=model_type, **values)
        except (ValueError, TypeError) as e:
            raise type(e)(cls.spell(str(e), model_type, spelled)) from e

    @staticmethod
    def spell(message: str, model_type: str, spelled: dict[str, str]) -> str:
        """An error message about fields, in config.json's names, saying which values in it were
        not config.json's: the model type's defaults, or values its code fixes."""
        fields, notes = spec_for_model_type(model_type).fields[model_type], []
        for name, field in fields.items():
            said = re.compile(rf"(?<![\w]){name}(?=[= ])")
            if name in spelled:
                message = said.sub(spelled[name], message)
            elif re.search(rf"(?<![\w]){name}=", message):
                notes.append(f"model_type {model_type!r} fixes {name}" if not field.names else
                             f"config.json has no {name}: model_type {model_type!r}'s default")
        return message + "".join(f" ({note})" for note in notes)

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each weight of the layer (projection for the encoder excepted), by our name."""
        spec, V, H, E = self.spec, self.vocab_size, self.hidden_size, self.E
        shapes: dict[str, tuple[int, ...]] = {f"{spec.word}.weight": (V, E)}
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
        """The encoder-input projection's weights (ALBERT's always, ELECTRA's when E != H), else {}."""
        projection, H, E = self.spec.projection, self.hidden_size, self.E
        if projection is None or projection.where != "encoder_input":
            return {}
        if E == H and not projection.always:  # ELECTRA: none when E == H
            return {}
        shapes: dict[str, tuple[int, ...]] = {f"{projection.name}.weight": (H, E)}
        if projection.bias:
            shapes[f"{projection.name}.bias"] = (H,)
        return shapes


BertConfig = EmbeddingConfig  # the name transformers gives BERT's: model_type "bert" by default
