"""The BERT family as data: one FamilySpec per family, and the registry of model types.

Every model of the family turns token ids into hidden states the same way,

    E = LayerNorm(word[ids] + token_type[types] + position[position ids])

and differs only in details: which tables exist, how default position ids are made, the order
of the sum, the norm, a projection, an output mask, and how config.json and the checkpoint name
things, and each model type's config defaults (transformers' config class's: XLM-R's are not
RoBERTa's). Those details live here and nowhere else: config.py, loading.py, checks.py and
modules.py read a spec and never name a family. Adding a family is one FAMILIES entry (plus
its class in modules.py and reference fixtures); tests/test_config.py holds every default and
name against the table scripts/make_references.py --config-table makes from transformers.

Each family's class in modules.py cites the transformers file it reproduces, at v5.24.0:
src/transformers/models/<dir>/modeling_<dir>.py, the `...Embeddings` class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

__all__ = ["FAMILIES", "NEAR_FAMILY", "FamilySpec", "Field", "Projection",
           "model_type_for_architectures", "spec_for_config", "spec_for_model_type"]


@dataclass(frozen=True)
class Field:
    """Where config.json keeps one of our config fields, as the model_type's transformers config
    class reads it: the first of `names` present wins (the class's attribute_map alias before
    the attribute: DistilBERT's hidden_size before dim); with none present (or no names: a value
    the family's code fixes), `default`, the class's own. `meaning` translates a stored value
    into ours (DeBERTa's position_biased_input). `remote`: names of the model's own remote code
    that transformers 5.24 does not read (nomic's n_embd), read only when `names` are absent (see
    EmbeddingConfig.from_dict). `nullable`: config.json may say null (the class's type allows
    None: pad_token_id); elsewhere transformers refuses null."""

    names: tuple[str, ...]
    default: object
    meaning: Mapping[object, object] | None = None
    remote: tuple[str, ...] = ()
    nullable: bool = False


@dataclass(frozen=True)
class Projection:
    """A Linear(E, H) from the embedding width E to the encoder's width H, when E != H.

    `where`: "before_norm" (DeBERTa's embed_proj, part of the embedding layer) or "encoder_input"
    (ALBERT's and ELECTRA's, applied to the layer's output by the model: ours only with
    project=True, and read from the checkpoint only then)."""

    name: str  # our attribute, and transformers' module name
    keys: tuple[str, ...]  # its weight's key in a checkpoint, after the prefix (".weight" dropped)
    bias: bool
    where: str
    always: bool = False  # built whatever E is (ALBERT's encoder), not only when E != H


def pad(default: int) -> Field:
    """pad_token_id, with this default: `int | None` in transformers' config classes."""
    return Field(("pad_token_id",), default, nullable=True)


def read(name: str, default: object) -> Field:
    """A field that config.json keeps under our name, with this default."""
    return Field((name,), default)


def fixed(value: object) -> Field:
    """A value the family's code fixes: config.json cannot change it."""
    return Field((), value)


def fields(**overrides: Field) -> dict[str, Field]:
    """BERT's config fields (transformers' BertConfig names and defaults), with a model type's
    overrides: the names and defaults of its own config class."""
    bert = {
        "vocab_size": read("vocab_size", 30522),
        "hidden_size": read("hidden_size", 768),
        "embedding_size": fixed(None),  # None: the tables are H wide
        "max_position_embeddings": read("max_position_embeddings", 512),
        "type_vocab_size": read("type_vocab_size", 2),
        "layer_norm_eps": read("layer_norm_eps", 1e-12),
        "layer_norm_bias": fixed(True),
        "pad_token_id": pad(0),
        "hidden_dropout_prob": read("hidden_dropout_prob", 0.1),
        # transformers 5.24 reads it nowhere (positions are its code's); real files say "absolute"
        "position_embedding_type": read("position_embedding_type", "absolute"),
        "sinusoidal_pos_embds": fixed(False),
    }
    return {**bert, **overrides}


class PositionTyped(Protocol):
    """What FamilySpec.position_rule reads of a config: an EmbeddingConfig (config.py, which
    imports this module; this one does not import it back)."""

    @property
    def position_embedding_type(self) -> str: ...


@dataclass(frozen=True)
class FamilySpec:
    """Everything that tells one family's embedding layer from BERT's."""

    class_name: str  # our module class, e.g. "RobertaEmbeddings"
    # config.json's model_type values it serves -> our config field -> where config.json keeps
    # it, and its default: each model type's transformers config class's (XLMRobertaConfig's
    # vocab_size is not RobertaConfig's)
    fields: Mapping[str, Mapping[str, Field]]
    # class-name prefix in config.json's "architectures" -> the model_type it means
    architectures: Mapping[str, str]
    prefixes: tuple[str, ...]  # checkpoint key prefixes: bare base models, then task models'
    # position_embedding_type value -> the rule for default position ids ("absolute": arange,
    # "from_padding": RoBERTa's count of non-pad tokens), or None: no position term (rotary,
    # ALiBi, DeBERTa's relative attention). Values missing here are refused.
    positions: Mapping[str, str | None]
    cache_length: bool  # does the rule start at cache_length (transformers' forward takes it)?
    token_types: bool  # does the forward take token_type_ids at all?
    sum_order: tuple[str, ...] = ("word", "token_type", "position")  # left to right, as upstream
    word: str = "word_embeddings"  # transformers' module names
    norm: str = "LayerNorm"
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # extra checkpoint names
    projection: Projection | None = None
    position_padding_idx: bool = False  # the position table's pad row is frozen (gets no gradient)
    output_mask: bool = False  # the output is multiplied by attention_mask (DeBERTa)
    model_input_names: tuple[str, ...] = ("input_ids", "token_type_ids", "attention_mask")
    vocab_txt_tokenizer: str | None = None  # the WordPiece tokenizer built from vocab.txt alone
    # type_vocab_size 0 means no type term (DeBERTa, GTE); in the other families the forward
    # always looks token types up, and a 0-row table takes none
    type_table_optional: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(  # frozen all the way down
            {model_type: MappingProxyType(dict(fields))
             for model_type, fields in self.fields.items()}))
        for name in ("architectures", "positions", "keys"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def model_types(self) -> tuple[str, ...]:
        """config.json's model_type values this family serves."""
        return tuple(self.fields)

    @property
    def model_type(self) -> str:
        return self.model_types[0]

    def position_rule(self, config: PositionTyped) -> str | None:
        """How a config of this family makes default position ids, or None: no position term."""
        return self.positions[config.position_embedding_type]


ROBERTA_PAD = pad(1)  # RobertaConfig and the configs copied from it

FAMILIES: tuple[FamilySpec, ...] = (
    FamilySpec(
        class_name="BertEmbeddings", fields={"bert": fields()},
        architectures={"Bert": "bert", "JinaBert": "bert"}, prefixes=("", "bert."),
        positions={"absolute": "absolute", "alibi": None},  # ALiBi (jina-v2): biases in attention
        cache_length=True, token_types=True, vocab_txt_tokenizer="BertTokenizer",
        keys={"LayerNorm.weight": ("embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma"),
              "LayerNorm.bias": ("embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta")},
    ),
    FamilySpec(
        class_name="RobertaEmbeddings",
        # real files (514 position rows, one type, eps 1e-5) differ from these defaults: read them
        fields={"roberta": fields(vocab_size=read("vocab_size", 50265), pad_token_id=ROBERTA_PAD),
                "xlm-roberta": fields(pad_token_id=ROBERTA_PAD),  # BERT's vocab_size
                "camembert": fields(pad_token_id=ROBERTA_PAD),
                "data2vec-text": fields(pad_token_id=ROBERTA_PAD)},
        architectures={"Roberta": "roberta", "XLMRoberta": "xlm-roberta", "Camembert": "camembert",
                       "Data2VecText": "data2vec-text"},
        prefixes=("", "roberta.", "data2vec_text."),
        positions={"absolute": "from_padding"}, cache_length=True, token_types=True,
        position_padding_idx=True, model_input_names=("input_ids", "attention_mask"),
    ),
    FamilySpec(
        class_name="DistilBertEmbeddings",
        fields={"distilbert": fields(
            hidden_size=Field(("hidden_size", "dim"), 768),  # attribute_map: hidden_size -> dim
            type_vocab_size=fixed(0), layer_norm_eps=fixed(1e-12),  # fixed in DistilBERT's code
            hidden_dropout_prob=read("dropout", 0.1), position_embedding_type=fixed("absolute"),
            sinusoidal_pos_embds=read("sinusoidal_pos_embds", False))},
        architectures={"DistilBert": "distilbert"},
        prefixes=("", "distilbert."), positions={"absolute": "absolute"},
        cache_length=False, token_types=False, sum_order=("word", "position"),
        model_input_names=("input_ids", "attention_mask"), vocab_txt_tokenizer="DistilBertTokenizer",
    ),
    FamilySpec(
        class_name="MPNetEmbeddings",
        fields={"mpnet": fields(vocab_size=read("vocab_size", 30527),
                                pad_token_id=fixed(1),  # MPNet's code fixes padding_idx = 1
                                type_vocab_size=fixed(0),
                                position_embedding_type=fixed("absolute"))},
        architectures={"MPNet": "mpnet"},
        prefixes=("", "mpnet."), positions={"absolute": "from_padding"},
        cache_length=False, token_types=False, sum_order=("word", "position"),
        position_padding_idx=True, model_input_names=("input_ids", "attention_mask"),
    ),
    FamilySpec(
        class_name="AlbertEmbeddings",
        fields={"albert": fields(vocab_size=read("vocab_size", 30000),
                                 hidden_size=read("hidden_size", 4096),
                                 embedding_size=read("embedding_size", 128),
                                 hidden_dropout_prob=read("hidden_dropout_prob", 0.0),
                                 position_embedding_type=fixed("absolute"))},
        architectures={"Albert": "albert"},
        prefixes=("", "albert."), positions={"absolute": "absolute"},
        cache_length=False, token_types=True,
        projection=Projection("embedding_hidden_mapping_in", ("encoder.embedding_hidden_mapping_in",),
                              bias=True, where="encoder_input", always=True),
    ),
    FamilySpec(
        class_name="ElectraEmbeddings",
        fields={"electra": fields(hidden_size=read("hidden_size", 256),
                                  embedding_size=read("embedding_size", 128))},
        architectures={"Electra": "electra"},
        prefixes=("", "electra."), positions={"absolute": "absolute"},
        cache_length=True, token_types=True, vocab_txt_tokenizer="ElectraTokenizer",
        projection=Projection("embeddings_project", ("embeddings_project",), bias=True,
                              where="encoder_input"),
    ),
    FamilySpec(
        class_name="DebertaV2Embeddings",
        fields={model_type: fields(
            vocab_size=read("vocab_size", vocab_size), hidden_size=read("hidden_size", hidden_size),
            embedding_size=read("embedding_size", None),  # None: H, getattr's fallback
            type_vocab_size=read("type_vocab_size", 0), layer_norm_eps=read("layer_norm_eps", 1e-7),
            position_embedding_type=Field(("position_biased_input",), True,
                                          meaning={True: "absolute", False: "relative"}))
            for model_type, vocab_size, hidden_size in (("deberta-v2", 128100, 1536),
                                                        ("deberta", 50265, 768))},
        architectures={"DebertaV2": "deberta-v2", "Deberta": "deberta"},
        prefixes=("", "deberta."), positions={"absolute": "absolute", "relative": None},
        cache_length=False, token_types=True, sum_order=("word", "position", "token_type"),
        projection=Projection("embed_proj", ("embeddings.embed_proj",), bias=False,
                              where="before_norm"),
        output_mask=True, type_table_optional=True,
    ),
    FamilySpec(
        class_name="ModernBertEmbeddings",
        fields={"modernbert": fields(
            vocab_size=read("vocab_size", 50368),
            max_position_embeddings=read("max_position_embeddings", 8192),
            type_vocab_size=fixed(0), layer_norm_eps=read("norm_eps", 1e-5),
            layer_norm_bias=read("norm_bias", False), pad_token_id=pad(50283),
            hidden_dropout_prob=read("embedding_dropout", 0.0),
            position_embedding_type=fixed("rotary"))},  # configs say "absolute": unused
        architectures={"ModernBert": "modernbert"},
        prefixes=("", "model."), positions={"rotary": None},
        cache_length=False, token_types=False, sum_order=("word",),
        word="tok_embeddings", norm="norm", model_input_names=("input_ids", "attention_mask"),
    ),
    FamilySpec(
        class_name="NomicBertEmbeddings",
        # real files (nomic-embed-text-v1.5) keep GPT-2 names of their remote code: see Field.remote
        fields={"nomic_bert": fields(
            vocab_size=read("vocab_size", 30528),
            hidden_size=Field(("hidden_size",), 768, remote=("n_embd",)),
            max_position_embeddings=read("max_position_embeddings", 2048),
            layer_norm_eps=Field(("layer_norm_eps",), 1e-12, remote=("layer_norm_epsilon",)),
            hidden_dropout_prob=Field(("hidden_dropout_prob",), 0.0, remote=("embd_pdrop",)),
            pad_token_id=read("pad_token_id", 0),  # NomicBertConfig's is an int: never null
            position_embedding_type=fixed("rotary"))},
        architectures={"NomicBert": "nomic_bert"},
        prefixes=("", "nomic_bert.", "bert."), positions={"rotary": None},
        cache_length=False, token_types=True, sum_order=("word", "token_type"),
        keys={"LayerNorm.weight": ("embeddings.LayerNorm.weight", "emb_ln.weight"),
              "LayerNorm.bias": ("embeddings.LayerNorm.bias", "emb_ln.bias")},  # real files: emb_ln
    ),
    FamilySpec(
        class_name="GteEmbeddings",
        # "new": gte-*-v1.5's remote-code model_type, which transformers loads as GteConfig
        fields=dict.fromkeys(("gte", "new"), fields(
            vocab_size=read("vocab_size", 250048),
            max_position_embeddings=read("max_position_embeddings", 8192),
            type_vocab_size=read("type_vocab_size", 1), pad_token_id=pad(1),
            position_embedding_type=fixed("rotary"))),
        architectures={"Gte": "gte", "New": "new"},
        prefixes=("", "new.", "gte."), positions={"rotary": None},
        cache_length=False, token_types=True, sum_order=("word", "token_type"),
        type_table_optional=True,
    ),
)

# Architectures that start like a family's but are another model in transformers 5.24 (its
# models/auto/modeling_auto.py mappings): prefix -> that model's model_type. Refused by name,
# never routed by their prefix to a family whose layer they do not have.
NEAR_FAMILY: Mapping[str, str] = MappingProxyType({
    "BertGeneration": "bert-generation", "RobertaPreLayerNorm": "roberta-prelayernorm",
    "XLMRobertaXL": "xlm-roberta-xl", "ModernBertDecoder": "modernbert-decoder",
})

REGISTRY: dict[str, FamilySpec] = {t: spec for spec in FAMILIES for t in spec.model_types}


def supported() -> str:
    return ", ".join(sorted(REGISTRY))


def spec_for_model_type(model_type: str, where: str = "config.json") -> FamilySpec:
    """The spec of a model_type, or an error naming it and listing the supported ones."""
    spec = REGISTRY.get(model_type)
    if spec is None:
        raise ValueError(f"{where}: model_type {model_type!r} is not in the BERT family this library "
                         f"implements (supported: {supported()})")
    return spec


def names_a_model(name: str, prefix: str) -> bool:
    """Whether class `name` is a model of `prefix`: the prefix, then a new word or nothing
    (BertForMaskedLM, NewModel; not Bertology, nor NewsBertModel, which are not BERT nor GTE)."""
    rest = name[len(prefix):]
    return name.startswith(prefix) and (not rest or rest[0].isupper())


def model_type_for_architectures(architectures: list[Any], where: str = "config.json") -> str:
    """The model_type that config.json's "architectures" names, for configs without a model_type:
    each name's longest prefix decides (XLMRobertaForMaskedLM is XLM-R, not RoBERTa); a name of
    a near-family model (XLMRobertaXLModel) or names of two model types are refused."""
    if not all(isinstance(name, str) for name in architectures):
        raise TypeError(f"{where}: architectures must be a list of class names, "
                        f"got {architectures!r}")
    prefixes = {prefix: model_type for spec in FAMILIES
                for prefix, model_type in spec.architectures.items()}
    found: dict[str, list[str]] = {}  # model_type -> the names that say it
    for name in architectures:
        prefix = max((p for p in (*prefixes, *NEAR_FAMILY) if names_a_model(name, p)), key=len,
                     default=None)
        if prefix is None:
            continue  # not a name of the family's
        if prefix in NEAR_FAMILY:
            raise ValueError(f"{where}: architectures names {name}, transformers' "
                             f"{NEAR_FAMILY[prefix]!r} model, which is not in the BERT family this "
                             f"library implements (supported model types: {supported()})")
        found.setdefault(prefixes[prefix], []).append(name)
    if not found:
        raise ValueError(f"{where} has no model_type, and its architectures {architectures!r} name no "
                         f"model of the BERT family (supported model types: {supported()})")
    if len(found) > 1:
        named = "; ".join(f"{', '.join(names)} ({model_type})"
                          for model_type, names in found.items())
        raise ValueError(f"{where} has no model_type, and its architectures name models of "
                         f"{len(found)} model types: {named}. Add the model_type to say which")
    return next(iter(found))


def spec_for_config(data: Mapping[str, Any], where: str = "config.json") -> tuple[FamilySpec, str]:
    """(the spec, the model_type) of a config.json's content: its model_type, or when it has
    none, its "architectures"; anything else is refused."""
    if "model_type" in data:
        if not isinstance(data["model_type"], str):
            raise TypeError(f"{where}: model_type must be a string, got {data['model_type']!r}")
        return spec_for_model_type(data["model_type"], where), data["model_type"]
    if "architectures" not in data:
        raise ValueError(f"{where} has neither model_type nor architectures: cannot tell the model")
    if not isinstance(data["architectures"], list):
        raise TypeError(f"{where}: architectures must be a list of class names, "
                        f"got {data['architectures']!r}")
    model_type = model_type_for_architectures(data["architectures"], where)
    return REGISTRY[model_type], model_type
