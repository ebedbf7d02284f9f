"""The BERT family as data: one FamilySpec per model type, and the registry that maps to it.

Every model of the family turns token ids into hidden states the same way,

    E = LayerNorm(word[ids] + token_type[types] + position[position ids])

and differs only in details: which tables exist, how default position ids are made, the order
of the sum, the norm, a projection, an output mask, and how config.json and the checkpoint name
things. Those details live here and nowhere else: config.py, loading.py, checks.py and
modules.py read a spec and never name a family. Adding a family is one FAMILIES entry (plus
its class in modules.py and a reference fixture).

Each family's class in modules.py cites the transformers file it reproduces, at v5.24.0:
src/transformers/models/<dir>/modeling_<dir>.py, the `...Embeddings` class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["FAMILIES", "FamilySpec", "Field", "Projection", "spec_for_architectures", "spec_for_config",
           "spec_for_model_type"]


@dataclass(frozen=True)
class Field:
    """Where config.json keeps one of our config fields: the first of `names` present wins;
    with none present (or no names: a value the family fixes), `default`, transformers' own.
    `meaning` translates a stored value into ours (e.g. DeBERTa's position_biased_input)."""

    names: tuple[str, ...]
    default: object
    meaning: dict | None = None


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


def fields(**overrides: Field) -> dict[str, Field]:
    """BERT's config fields (transformers' BertConfig names and defaults), with a family's overrides."""
    bert = {
        "vocab_size": Field(("vocab_size",), 30522),
        "hidden_size": Field(("hidden_size",), 768),
        "embedding_size": Field((), None),  # None: the tables are H wide
        "max_position_embeddings": Field(("max_position_embeddings",), 512),
        "type_vocab_size": Field(("type_vocab_size",), 2),
        "layer_norm_eps": Field(("layer_norm_eps",), 1e-12),
        "layer_norm_bias": Field((), True),
        "pad_token_id": Field(("pad_token_id",), 0),
        "hidden_dropout_prob": Field(("hidden_dropout_prob",), 0.1),
        "position_embedding_type": Field(("position_embedding_type",), "absolute"),
        "sinusoidal_pos_embds": Field((), False),
    }
    return {**bert, **overrides}


@dataclass(frozen=True)
class FamilySpec:
    """Everything that tells one family's embedding layer from BERT's."""

    class_name: str  # our module class, e.g. "RobertaEmbeddings"
    model_types: tuple[str, ...]  # config.json's model_type values it serves
    architectures: tuple[str, ...]  # class-name prefixes in config.json's "architectures"
    fields: dict[str, Field]  # our config field -> where config.json keeps it
    prefixes: tuple[str, ...]  # checkpoint key prefixes: bare base models, then task models'
    # position_embedding_type value -> the rule for default position ids ("absolute": arange,
    # "from_padding": RoBERTa's count of non-pad tokens), or None: no position term (rotary,
    # ALiBi, DeBERTa's relative attention). Values missing here are refused.
    positions: dict[str, str | None]
    cache_length: bool  # does the rule start at cache_length (transformers' forward takes it)?
    token_types: bool  # does the forward take token_type_ids at all?
    sum_order: tuple[str, ...] = ("word", "token_type", "position")  # left to right, as upstream
    word: str = "word_embeddings"  # transformers' module names
    norm: str = "LayerNorm"
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # extra checkpoint names
    projection: Projection | None = None
    position_padding_idx: bool = False  # the position table's pad row is frozen (gets no gradient)
    output_mask: bool = False  # the output is multiplied by attention_mask (DeBERTa)
    model_input_names: tuple[str, ...] = ("input_ids", "token_type_ids", "attention_mask")
    vocab_txt_tokenizer: str | None = None  # the WordPiece tokenizer built from vocab.txt alone

    def __post_init__(self):
        for name in ("fields", "positions", "keys"):  # frozen all the way down: read-only mappings
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def model_type(self) -> str:
        return self.model_types[0]

    def position_rule(self, config) -> str | None:
        """How a config of this family makes default position ids, or None: no position term."""
        return self.positions[config.position_embedding_type]


FAMILIES: tuple[FamilySpec, ...] = (
    FamilySpec(
        class_name="BertEmbeddings", model_types=("bert",), architectures=("Bert", "JinaBert"),
        fields=fields(), prefixes=("", "bert."),
        positions={"absolute": "absolute", "alibi": None},  # ALiBi (jina-v2): biases in attention
        cache_length=True, token_types=True, vocab_txt_tokenizer="BertTokenizer",
        keys={"LayerNorm.weight": ("embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma"),
              "LayerNorm.bias": ("embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta")},
    ),
    FamilySpec(
        class_name="RobertaEmbeddings",
        model_types=("roberta", "xlm-roberta", "camembert", "data2vec-text"),
        architectures=("Roberta", "XLMRoberta", "Camembert", "Data2VecText"),
        # real files (514 position rows, one type, eps 1e-5) differ from these defaults: read them
        fields=fields(pad_token_id=Field(("pad_token_id",), 1)),
        prefixes=("", "roberta.", "data2vec_text."),
        positions={"absolute": "from_padding"}, cache_length=True, token_types=True,
        position_padding_idx=True, model_input_names=("input_ids", "attention_mask"),
    ),
    FamilySpec(
        class_name="DistilBertEmbeddings", model_types=("distilbert",), architectures=("DistilBert",),
        fields=fields(hidden_size=Field(("dim",), 768), type_vocab_size=Field((), 0),
                      layer_norm_eps=Field((), 1e-12),  # fixed in DistilBERT's code
                      hidden_dropout_prob=Field(("dropout",), 0.1),
                      position_embedding_type=Field((), "absolute"),
                      sinusoidal_pos_embds=Field(("sinusoidal_pos_embds",), False)),
        prefixes=("", "distilbert."), positions={"absolute": "absolute"},
        cache_length=False, token_types=False, sum_order=("word", "position"),
        model_input_names=("input_ids", "attention_mask"), vocab_txt_tokenizer="DistilBertTokenizer",
    ),
    FamilySpec(
        class_name="MPNetEmbeddings", model_types=("mpnet",), architectures=("MPNet",),
        fields=fields(pad_token_id=Field((), 1),  # MPNet's code fixes padding_idx = 1
                      type_vocab_size=Field((), 0), position_embedding_type=Field((), "absolute")),
        prefixes=("", "mpnet."), positions={"absolute": "from_padding"},
        cache_length=False, token_types=False, sum_order=("word", "position"),
        position_padding_idx=True, model_input_names=("input_ids", "attention_mask"),
    ),
    FamilySpec(
        class_name="AlbertEmbeddings", model_types=("albert",), architectures=("Albert",),
        fields=fields(embedding_size=Field(("embedding_size",), 128),
                      position_embedding_type=Field((), "absolute")),
        prefixes=("", "albert."), positions={"absolute": "absolute"},
        cache_length=False, token_types=True,
        projection=Projection("embedding_hidden_mapping_in", ("encoder.embedding_hidden_mapping_in",),
                              bias=True, where="encoder_input"),
    ),
    FamilySpec(
        class_name="ElectraEmbeddings", model_types=("electra",), architectures=("Electra",),
        fields=fields(embedding_size=Field(("embedding_size",), 128)),
        prefixes=("", "electra."), positions={"absolute": "absolute"},
        cache_length=True, token_types=True, vocab_txt_tokenizer="ElectraTokenizer",
        projection=Projection("embeddings_project", ("embeddings_project",), bias=True,
                              where="encoder_input"),
    ),
    FamilySpec(
        class_name="DebertaV2Embeddings", model_types=("deberta-v2", "deberta"),
        architectures=("DebertaV2", "Deberta"),
        fields=fields(embedding_size=Field(("embedding_size",), None),
                      type_vocab_size=Field(("type_vocab_size",), 0),
                      layer_norm_eps=Field(("layer_norm_eps",), 1e-7),
                      position_embedding_type=Field(("position_biased_input",), True,
                                                    meaning={True: "absolute", False: "relative"})),
        prefixes=("", "deberta."), positions={"absolute": "absolute", "relative": None},
        cache_length=False, token_types=True, sum_order=("word", "position", "token_type"),
        projection=Projection("embed_proj", ("embeddings.embed_proj",), bias=False,
                              where="before_norm"),
        output_mask=True,
    ),
    FamilySpec(
        class_name="ModernBertEmbeddings", model_types=("modernbert",), architectures=("ModernBert",),
        fields=fields(type_vocab_size=Field((), 0), layer_norm_eps=Field(("norm_eps",), 1e-5),
                      layer_norm_bias=Field(("norm_bias",), False),
                      pad_token_id=Field(("pad_token_id",), 50283),
                      hidden_dropout_prob=Field(("embedding_dropout",), 0.0),
                      position_embedding_type=Field((), "rotary")),  # configs say "absolute": unused
        prefixes=("", "model."), positions={"rotary": None},
        cache_length=False, token_types=False, sum_order=("word",),
        word="tok_embeddings", norm="norm", model_input_names=("input_ids", "attention_mask"),
    ),
    FamilySpec(
        class_name="NomicBertEmbeddings", model_types=("nomic_bert",), architectures=("NomicBert",),
        fields=fields(hidden_size=Field(("hidden_size", "n_embd"), 768),
                      vocab_size=Field(("vocab_size",), 30528),
                      layer_norm_eps=Field(("layer_norm_eps", "layer_norm_epsilon"), 1e-12),
                      hidden_dropout_prob=Field(("hidden_dropout_prob", "embd_pdrop"), 0.0),
                      position_embedding_type=Field((), "rotary")),
        prefixes=("", "nomic_bert.", "bert."), positions={"rotary": None},
        cache_length=False, token_types=True, sum_order=("word", "token_type"),
        keys={"LayerNorm.weight": ("embeddings.LayerNorm.weight", "emb_ln.weight"),
              "LayerNorm.bias": ("embeddings.LayerNorm.bias", "emb_ln.bias")},  # real files: emb_ln
    ),
    FamilySpec(
        class_name="GteEmbeddings", model_types=("gte", "new"), architectures=("Gte", "New"),
        fields=fields(type_vocab_size=Field(("type_vocab_size",), 1),
                      pad_token_id=Field(("pad_token_id",), 1),
                      position_embedding_type=Field((), "rotary")),
        prefixes=("", "new.", "gte."), positions={"rotary": None},
        cache_length=False, token_types=True, sum_order=("word", "token_type"),
    ),
)

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


def spec_for_architectures(architectures: list, where: str = "config.json") -> FamilySpec:
    """The spec whose longest architecture prefix starts a name of config.json's "architectures"
    (e.g. "XLMRobertaForMaskedLM" -> XLM-R, not BERT), for configs without a model_type."""
    matches = sorted(((len(prefix), spec) for spec in FAMILIES for prefix in spec.architectures
                      for name in architectures if isinstance(name, str) and name.startswith(prefix)),
                     key=lambda match: match[0], reverse=True)
    if not matches:
        raise ValueError(f"{where} has no model_type, and its architectures {architectures!r} name no "
                         f"model of the BERT family (supported model types: {supported()})")
    return matches[0][1]


def spec_for_config(data: dict, where: str = "config.json") -> tuple[FamilySpec, str]:
    """(the spec, the model_type) of a config.json's content: its model_type, or when it has
    none, its "architectures"; anything else is refused."""
    if "model_type" in data:
        if not isinstance(data["model_type"], str):
            raise TypeError(f"{where}: model_type must be a string, got {data['model_type']!r}")
        return spec_for_model_type(data["model_type"], where), data["model_type"]
    if isinstance(data.get("architectures"), list):
        spec = spec_for_architectures(data["architectures"], where)
        return spec, spec.model_type
    raise ValueError(f"{where} has neither model_type nor architectures: cannot tell the model")
