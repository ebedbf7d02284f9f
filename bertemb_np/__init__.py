"""bertemb_np: BERT's embedding layer in NumPy, on real pretrained weights.

    E = LayerNorm(word[input_ids] + token_type[token_type_ids] + position[position_ids])

Layout, one job per file, each importing only the ones above it:
    functional.py  the math, pure functions (embedding, layer_norm)
    fast.py        the same math fused for speed: blocked, in place, on threads
    config.py      BertConfig, the frozen fields of config.json
    safetensors_io.py  the safetensors file format, read and written with NumPy
    sources.py     where files come from: a local folder or the Hugging Face Hub
    hub.py         from the Hub, only the embedding tensors' bytes, cached
    loading.py     a checkpoint (one file or shards) -> the five embedding tensors
    modules.py     Embedding, LayerNorm, BertEmbeddings: the modules that hold weights
    tokenizer.py   text -> token ids
    study.py       the numbers behind the study tools
    plots.py       their figures (matplotlib, optional)
    cli.py         the `bertemb` command
"""

from .config import BertConfig
from .functional import embedding, layer_norm
from .modules import BertEmbeddings, Embedding, LayerNorm
from .tokenizer import Tokenizer

__all__ = ["BertConfig", "BertEmbeddings", "Embedding", "LayerNorm", "Tokenizer", "embedding", "layer_norm"]
__version__ = "0.1.0"
