"""The embedding layer's configuration, read from a checkpoint's config.json.

Reference: transformers' `BertConfig` (configuration_bert.py, v5.24.0). A field that
config.json leaves out takes BertConfig's default, exactly as transformers would.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

__all__ = ["BertConfig"]


@dataclass(frozen=True)
class BertConfig:
    """The fields of config.json that the embedding layer uses, with why each one matters."""

    vocab_size: int = 30522  # rows of word_embeddings: one per WordPiece token id
    hidden_size: int = 768  # H, the width of every embedding row and of the output
    max_position_embeddings: int = 512  # rows of position_embeddings: the longest input
    type_vocab_size: int = 2  # rows of token_type_embeddings: sentence A, sentence B
    layer_norm_eps: float = 1e-12  # added to the variance inside the sqrt; 1e-12 for BERT, 1e-5 elsewhere
    pad_token_id: int | None = 0  # padding_idx of word_embeddings: its row gets no gradient in training
    hidden_dropout_prob: float = 0.1  # dropout after LayerNorm; used only in training, never at inference
    position_embedding_type: str = "absolute"  # only learned absolute positions are implemented
    model_type: str = "bert"  # RoBERTa, ELECTRA, ... number their positions differently: refused

    def __post_init__(self):
        for name in ("vocab_size", "hidden_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"config field {name} must be a positive integer, got {value!r}")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (eps >= 0 and math.isfinite(eps)):
            raise ValueError(f"config field layer_norm_eps must be a finite number >= 0, got {eps!r}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"config field pad_token_id={self.pad_token_id} is not a row of the "
                             f"{self.vocab_size}-row word_embeddings")
        if self.model_type != "bert":
            raise ValueError(f"model_type {self.model_type!r} is not supported: only BERT's embedding "
                             f"layer (model_type 'bert') is implemented")
        if self.position_embedding_type != "absolute":
            raise ValueError(f"position_embedding_type {self.position_embedding_type!r} is not supported: "
                             f"only learned absolute positions ('absolute') are implemented")

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "BertConfig":
        """Read config.json. Fields the embedding layer does not use are ignored."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each weight of BertEmbeddings, by its name in our modules."""
        V, H, P, T = self.vocab_size, self.hidden_size, self.max_position_embeddings, self.type_vocab_size
        return {
            "word_embeddings.weight": (V, H),
            "position_embeddings.weight": (P, H),
            "token_type_embeddings.weight": (T, H),
            "LayerNorm.weight": (H,),
            "LayerNorm.bias": (H,),
        }
