"""bertemb_np: the embedding layer of BERT and its family in NumPy, on real pretrained weights.

    E = LayerNorm(word[input_ids] + token_type[token_type_ids] + position[position_ids])

and the family's variations of it (RoBERTa, DistilBERT, MPNet, ALBERT, ELECTRA, DeBERTa,
ModernBERT, NomicBERT, GTE), each described as data in specs.py.

Layout, one job per file, each importing only the ones above it:
    version.py     the version, written once
    positions.py   the math of positions: how each family numbers its tokens, one rule each
    functional.py  the math, pure functions (embedding, layer_norm, linear, dropout, backward)
    fast.py        the same math fused for speed: folded tables, blocked, in place, on threads
    specs.py       the family as data: one spec per model type, and the registry
    config.py      EmbeddingConfig (BertConfig), the frozen fields of config.json, read via the spec
    checks.py      checking ids, weights and the arguments of a forward pass (no rules of its own)
    nn.py          Embedding, LayerNorm, Linear: the modules that hold one weight each
    state.py       the layer's modules and state, kept consistent (read-only config, checked changes)
    safetensors_io.py  the safetensors file format, read and written with NumPy
    sources.py     where files come from: a local folder or the Hugging Face Hub
    hub.py         from the Hub, only the embedding tensors' bytes, cached
    loading.py     a checkpoint (one file or shards) -> the embedding layer's tensors
    modules.py     Embeddings (its forward, reference and backward passes, from_pretrained) and
                   the family's classes, each citing the transformers file it reproduces
    tokenizer.py   text -> token ids
    study.py       the numbers behind the study tools
    plots.py       their figures (matplotlib, optional)
    cli.py         the `bertemb` command
"""

from .config import BertConfig, EmbeddingConfig
from .fast import SparseRows
from .functional import embedding, layer_norm
from .modules import (
    AlbertEmbeddings,
    AutoEmbeddings,
    BertEmbeddings,
    DebertaV2Embeddings,
    DistilBertEmbeddings,
    ElectraEmbeddings,
    Embeddings,
    GteEmbeddings,
    ModernBertEmbeddings,
    MPNetEmbeddings,
    NomicBertEmbeddings,
    RobertaEmbeddings,
)
from .nn import Embedding, LayerNorm, Linear
from .tokenizer import Tokenizer
from .version import __version__

__all__ = ["AlbertEmbeddings", "AutoEmbeddings", "BertConfig", "BertEmbeddings", "DebertaV2Embeddings",
           "DistilBertEmbeddings", "ElectraEmbeddings", "Embedding", "EmbeddingConfig", "Embeddings",
           "GteEmbeddings", "LayerNorm", "Linear", "ModernBertEmbeddings", "MPNetEmbeddings",
           "NomicBertEmbeddings", "RobertaEmbeddings", "SparseRows", "Tokenizer", "__version__",
           "embedding", "layer_norm"]
