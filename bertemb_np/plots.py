"""The figures of `bertemb plot`, drawn with matplotlib (the optional extra [plot]).

Each function draws one figure from numbers computed by study.py, titled with the model's name,
and writes it as a PNG of FIGURE_PIXELS. matplotlib is imported when a figure is drawn, with
the Agg backend (no screen). Legends sit outside the axes, so that they hide no data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["FIGURE_PIXELS", "component_norms", "dimensions_across_positions", "off_axis_note",
           "position_similarity", "token_types"]

FIGURE_PIXELS = (960, 720)  # width, height of every PNG
DPI = 120
LABELLED = 3  # off-axis values written out, at most: the largest


def new_figure(title: str, model: str, columns: int = 1):
    """A figure of FIGURE_PIXELS with `columns` axes, titled "model: title"."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("bertemb plot needs matplotlib: "
                          "pip install matplotlib (the [plot] extra)") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = (FIGURE_PIXELS[0] / DPI, FIGURE_PIXELS[1] / DPI)
    fig, axes = plt.subplots(1, columns, figsize=size, dpi=DPI)
    fig.suptitle(f"{model}: {title}")
    return fig, axes


def save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=DPI)  # no bbox_inches="tight": every PNG is exactly FIGURE_PIXELS
    plt.close(fig)
    return path


def position_similarity(similarity: np.ndarray, band: int, model: str, path: Path) -> Path:
    fig, ax = new_figure(f"cosine similarity of the {len(similarity)} position embeddings", model)
    image = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("position j")
    ax.set_ylabel("position i")
    ax.set_title(f"mean similarity of positions d apart falls below 0.5 at d = {band}", fontsize=9)
    fig.colorbar(image, ax=ax, label="cos(position i, position j)")
    return save(fig, path)


def off_axis_points(curves: dict) -> list[tuple[int, int, float]]:
    """(dimension, position, value) of each value of study.dimension_curves beyond the axis,
    largest first."""
    return list(zip(curves["off_axis_dimensions"].tolist(), curves["off_axis_positions"].tolist(),
                    curves["off_axis_values"].tolist()))


def point_label(dimension: int, position: int, value: float) -> str:
    return f"dim {dimension} at position {position}: {value:.2f}"


def off_axis_note(curves: dict) -> str:
    """The values beyond the axis, largest first, the first LABELLED of them by name:
    "dim 99 at position 0: 1.87, ... and 2 more"."""
    points = off_axis_points(curves)
    note = ", ".join(point_label(*point) for point in points[:LABELLED])
    return note + (f" and {len(points) - LABELLED} more" if len(points) > LABELLED else "")


def dimensions_across_positions(position_weight: np.ndarray, curves: dict,
                                sinusoid: dict | None, model: str, path: Path) -> Path:
    """The curves of study.dimension_curves, on an axis of ±dimension_limit. A value beyond it
    is marked by a triangle on the edge, in its curve's colour, the largest LABELLED with their
    values. `sinusoid` (study.sinusoids_to_compare) adds the Transformer's waves, dashed."""
    dims, limit = curves["top_dimensions"], curves["dimension_limit"]
    fig, ax = new_figure(f"the {len(dims)} most varying dimensions of the position embeddings",
                         model)
    positions = np.arange(len(position_weight))
    colour = {d: ax.plot(positions, position_weight[:, d], label=f"learned, dim {d}")[0].get_color()
              for d in dims}
    if sinusoid is not None:  # rescaled to 80% of the axis: only their shapes compare
        for wave, wavelength in zip(sinusoid["sinusoids"].T, sinusoid["sinusoid_wavelengths"]):
            ax.plot(positions, 0.8 * limit * wave, "--", linewidth=0.8,
                    label=f"sinusoid, wavelength {wavelength:.0f}")
    points = off_axis_points(curves)
    for n, (d, p, value) in reversed(list(enumerate(points))):  # the largest drawn on top
        edge, side = (limit, 1) if value > 0 else (-limit, -1)
        ax.plot(p, edge, "^" if side > 0 else "v", color=colour[d], markersize=9,
                markeredgecolor="black", clip_on=False, zorder=3)
        if n < LABELLED:  # stacked inside the axes, each with a line to its triangle
            ax.annotate(point_label(d, p, value), (p, edge), xytext=(24, -side * 18 * (n + 1)),
                        textcoords="offset points", va="center", fontsize=8, color=colour[d],
                        bbox={"boxstyle": "round", "fc": "white", "ec": colour[d]},
                        arrowprops={"arrowstyle": "-", "color": colour[d], "relpos": (0, 0.5)})
    if points:
        ax.set_title("▲ ▼ on the edge: values beyond the axis", fontsize=9, pad=10)
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("position")
    ax.set_ylabel("value")
    fig.subplots_adjust(bottom=0.22)
    fig.legend(loc="lower center", ncol=4 if sinusoid is None else 2, fontsize=8, frameon=False)
    return save(fig, path)


def component_norms(tokens: list[str], norms: dict[str, np.ndarray], model: str,
                    path: Path) -> Path:
    fig, ax = new_figure("norm of each part of the embedding, per token", model)
    x = np.arange(len(tokens))
    width = 0.8 / len(norms)
    for k, (name, values) in enumerate(norms.items()):
        ax.bar(x + (k - (len(norms) - 1) / 2) * width, values, width, label=name.replace("_", " "))
    ax.set_xticks(x, tokens, rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("token")
    ax.set_ylabel("L2 norm (log scale)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(norms), fontsize=8,
              frameon=False)  # above the axes, under the title
    fig.tight_layout()
    return save(fig, path)


def token_types(contrast: dict, model: str, path: Path) -> Path:
    fig, (left, right) = new_figure("token type B minus token type A", model, columns=2)
    left.plot(contrast["difference"], linewidth=0.7)
    left.set_xlabel("hidden dimension")
    left.set_ylabel("type B - type A")
    names = ["|type A|", "|type B|", "|B - A|", "mean |position|"]
    values = [contrast["norm_a"], contrast["norm_b"], contrast["difference_norm"],
              contrast["mean_position_norm"]]
    right.bar(names, values, color=["tab:blue", "tab:orange", "tab:green", "tab:gray"])
    right.set_ylabel("L2 norm")
    right.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return save(fig, path)
