"""The figures of `bertemb plot`, drawn with matplotlib (the optional extra [plot]).

Each function draws one figure from numbers computed by study.py and writes it as a PNG of
FIGURE_PIXELS. matplotlib is imported when a figure is drawn, with the Agg backend (no screen).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["FIGURE_PIXELS", "component_norms", "dimensions_across_positions", "position_similarity", "token_types"]

FIGURE_PIXELS = (960, 720)  # width, height of every PNG
DPI = 120


def new_figure(title: str, columns: int = 1):
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("bertemb plot needs matplotlib: pip install matplotlib (the [plot] extra)") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, columns, figsize=(FIGURE_PIXELS[0] / DPI, FIGURE_PIXELS[1] / DPI), dpi=DPI)
    fig.suptitle(title)
    return fig, axes


def save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=DPI)  # no bbox_inches="tight": every PNG is exactly FIGURE_PIXELS
    plt.close(fig)
    return path


def position_similarity(similarity: np.ndarray, band: int, path: Path) -> Path:
    fig, ax = new_figure(f"Cosine similarity of the {len(similarity)} position embeddings")
    image = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("position j")
    ax.set_ylabel("position i")
    ax.set_title(f"mean similarity of positions d apart falls below 0.5 at d = {band}", fontsize=9)
    fig.colorbar(image, ax=ax, label="cos(position i, position j)")
    return save(fig, path)


def dimensions_across_positions(position_weight: np.ndarray, dimensions: np.ndarray,
                                sinusoid: np.ndarray | None, path: Path) -> Path:
    fig, ax = new_figure(f"The {len(dimensions)} most varying dimensions of the position embeddings")
    positions = np.arange(len(position_weight))
    learned = position_weight[:, dimensions]  # [P, k]
    scale = 1.2 * np.percentile(np.abs(learned), 99.5)  # a few outliers (position 0) may go off the axis
    for column, d in enumerate(dimensions):
        ax.plot(positions, learned[:, column], label=f"learned, dim {d}")
    if sinusoid is not None:  # rescaled to the learned values' range, to compare shapes
        for column in range(sinusoid.shape[1]):
            ax.plot(positions, sinusoid[:, column] * scale / 1.2, "--", linewidth=0.8,
                    label=f"sinusoid {column + 1}")
    ax.set_ylim(-scale, scale)
    ax.set_xlabel("position")
    ax.set_ylabel("value")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    return save(fig, path)


def component_norms(tokens: list[str], norms: dict[str, np.ndarray], path: Path) -> Path:
    fig, ax = new_figure("Norm of each part of the embedding, per token")
    x = np.arange(len(tokens))
    width = 0.8 / len(norms)
    for k, (name, values) in enumerate(norms.items()):
        ax.bar(x + (k - (len(norms) - 1) / 2) * width, values, width, label=name.replace("_", " "))
    ax.set_xticks(x, tokens, rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("token")
    ax.set_ylabel("L2 norm (log scale)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def token_types(contrast: dict, path: Path) -> Path:
    fig, (left, right) = new_figure("Token type B minus token type A", columns=2)
    left.plot(contrast["difference"], linewidth=0.7)
    left.set_xlabel("hidden dimension")
    left.set_ylabel("type B - type A")
    names = ["|type A|", "|type B|", "|B - A|", "mean |position|"]
    values = [contrast["norm_a"], contrast["norm_b"], contrast["difference_norm"], contrast["mean_position_norm"]]
    right.bar(names, values, color=["tab:blue", "tab:orange", "tab:green", "tab:gray"])
    right.set_ylabel("L2 norm")
    right.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return save(fig, path)
