"""The figures of `bertemb plot`, drawn with matplotlib (the optional extra [plot]).

Each function draws one figure from numbers computed by study.py, titled with the model's name,
and writes it as a PNG of FIGURE_PIXELS. matplotlib is imported when a figure is drawn, and
draws with Agg, without pyplot (no screen, and a notebook's backend left alone). Legends sit
outside the axes, so that they hide no data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .study import DimensionCurves, TokenTypeContrast

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FIGURE_PIXELS", "component_norms", "dimensions_across_positions", "numbering_note",
           "off_axis_note", "position_similarity", "similarity_maps", "token_types"]

FIGURE_PIXELS = (960, 720)  # width, height of every PNG
# Maps of P = 512 rows get fewer pixels than rows: averaged ("antialiased"), not one row in few
# kept ("nearest"), whose sampling of the ripples a few positions long draws false stripes.
DPI = 120
LABELLED = 3  # off-axis values written out, at most: the largest
MARKER_POINTS = 9  # size of the triangles marking values beyond the axis
TERM_COLOURS = {"word": "tab:blue", "token_type": "tab:orange", "position": "tab:green",
                "sum": "tab:red"}  # the same in every model's component-norms figure


def new_figure(title: str, model: str, columns: int = 1, rows: int = 1,
               height_ratios: tuple[int, ...] | None = None) -> tuple[Figure, Any]:
    """A figure of FIGURE_PIXELS with rows x columns axes, titled "model: title". It is drawn by
    Agg without pyplot: no window, and the backend of the caller (a notebook's) left alone. The
    axes are one Axes, or an array of them (Any: matplotlib's own subplots() says no more)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("bertemb plot needs matplotlib: "
                          "pip install matplotlib (the [plot] extra)") from e
    fig = Figure(figsize=(FIGURE_PIXELS[0] / DPI, FIGURE_PIXELS[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)  # becomes fig.canvas
    axes = fig.subplots(rows, columns, gridspec_kw={"height_ratios": height_ratios})
    fig.suptitle(f"{model}: {title}" if model else title)
    return fig, axes


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)  # no bbox_inches="tight": every PNG is exactly FIGURE_PIXELS
    return path


def rows_before(first: int) -> str:
    """ "rows 0 and 1", "row 0", "rows 0 to 3": the rows below `first`."""
    return ("row 0" if first == 1 else "rows 0 and 1" if first == 2
            else f"rows 0 to {first - 1}")


def numbering_note(first: int, pad: int | None = None) -> str:
    """How the rows of the position table are given to tokens, in a caption's words, from the
    first token's row (study.first_token_row) and the pad id."""
    if first == 0:
        return "token i takes row i: row 0 is the first token's ([CLS]) in every input"
    return (f"the first real token takes row pad + 1 = {first}; {rows_before(first)} never "
            "hold a real token" + ("" if pad is None else f" (row {pad}: every pad)"))


def position_similarity(similarity: np.ndarray, band: int, model: str, path: Path,
                        first: int | None = None, pad: int | None = None) -> Path:
    """The [P, P] cosine map. Given the first token's row (study.first_token_row), its title says
    how the rows are numbered, and for a table numbered from the padding (`first` > 0) the rows
    no real token takes are fenced off by dotted lines."""
    fig, ax = new_figure(f"cosine similarity of the {len(similarity)} position embeddings", model)
    image = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1, interpolation="antialiased")
    fence(ax, first)
    ax.set_xlabel("position j (row of the table)")
    ax.set_ylabel("position i (row of the table)")
    title = f"mean similarity of positions d apart falls below 0.5 at d = {band}"
    if first is not None:
        title += (f" (rows {first}..{len(similarity) - 1})" if first else "")
        title += f"\n{numbering_note(first, pad)}"
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="cos(position i, position j)")
    return save(fig, path)


def fence(ax: Axes, first: int | None) -> None:
    """Dotted lines between the rows no real token takes (below `first`) and the others."""
    if first:
        for line in (ax.axvline, ax.axhline):
            line(first - 0.5, color="white", linestyle=":", linewidth=1)


def similarity_maps(maps: list[tuple[str, np.ndarray, int, int, float]], path: Path) -> Path:
    """Cosine maps of several position tables side by side, on one colour scale: `maps` holds
    (model, similarity [P, P], band width, first token's row, study.mean_row_share) for each.
    Rows no real token takes are fenced off by dotted lines, as in position_similarity."""
    fig, axes = new_figure("cosine similarity of the learned position embeddings", "",
                           columns=len(maps))
    fig.set_layout_engine("constrained")
    axes = np.atleast_1d(axes)
    for ax, (name, similarity, band, first, share) in zip(axes, maps, strict=True):
        image = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1, interpolation="antialiased")
        fence(ax, first)
        unused = f"{rows_before(first)} unused, " if first else ""
        ax.set_title(f"{name}\n{len(similarity)} rows, {unused}first token at row {first}\n"
                     f"mean similarity < 0.5 from d = {band} apart\n"
                     f"the mean row holds {share:.0%} of a row's squared norm", fontsize=9)
        ax.set_xlabel("position j (row)")
    axes[0].set_ylabel("position i (row)")
    fig.colorbar(image, ax=axes, orientation="horizontal", shrink=0.6,
                 label="cos(position i, position j)")
    return save(fig, path)


def off_axis_points(curves: DimensionCurves) -> list[tuple[int, int, float]]:
    """(dimension, position, value) of each value of study.dimension_curves beyond the axis,
    largest first."""
    return list(zip(curves["off_axis_dimensions"].tolist(), curves["off_axis_positions"].tolist(),
                    curves["off_axis_values"].tolist(), strict=True))


def point_label(dimension: int, position: int, value: float) -> str:
    return f"dim {dimension} at position {position}: {value:.2f}"


def off_axis_note(curves: DimensionCurves) -> str:
    """The values beyond the axis, largest first, the first LABELLED of them by name:
    "dim 99 at position 0: 1.87, ... and 2 more"."""
    points = off_axis_points(curves)
    note = ", ".join(point_label(*point) for point in points[:LABELLED])
    return note + (f" and {len(points) - LABELLED} more" if len(points) > LABELLED else "")


def dimensions_across_positions(position_weight: np.ndarray, curves: DimensionCurves,
                                sinusoid: dict[str, np.ndarray] | None, model: str, path: Path,
                                first: int | None = None) -> Path:
    """The curves of study.dimension_curves, on an axis of ±dimension_limit. A value beyond it
    is marked by a triangle on the edge, in its curve's colour; triangles at the same place
    stand side by side, so that none hides another, and the largest LABELLED values are written
    above the axes. `sinusoid` (study.sinusoids_to_compare) adds the Transformer's waves, dashed.
    Rows below `first`, which no real token takes (RoBERTa, MPNet), are shaded."""
    from matplotlib import transforms

    dims, limit = curves["top_dimensions"], curves["dimension_limit"]
    fig, ax = new_figure(f"the {len(dims)} dimensions of the position embeddings "
                         "that vary most", model)
    positions = np.arange(len(position_weight))
    if first:
        ax.axvspan(-0.5, first - 0.5, color="0.85", zorder=0,
                   label=f"{rows_before(first)}: never a real token's")
    colour = {d: ax.plot(positions, position_weight[:, d], label=f"learned, dim {d}")[0].get_color()
              for d in dims}
    if sinusoid is not None:  # rescaled to 80% of the axis: only their shapes compare
        for wave, wavelength in zip(sinusoid["sinusoids"].T, sinusoid["sinusoid_wavelengths"],
                                    strict=True):
            ax.plot(positions, 0.8 * limit * wave, "--", linewidth=0.8,
                    label=f"sinusoid, wavelength {wavelength:.0f}")
    placed: dict[tuple[int, int], int] = {}  # (position, side) -> triangles already there
    for d, p, value in off_axis_points(curves):
        side = 1 if value > 0 else -1
        shift = placed.get((p, side), 0)
        placed[(p, side)] = shift + 1
        beside = transforms.offset_copy(ax.transData, fig=fig, x=MARKER_POINTS * shift,
                                        units="points")  # side by side, to the right
        ax.plot(p, side * limit, "^" if side > 0 else "v", color=colour[d], transform=beside,
                markersize=MARKER_POINTS, markeredgecolor="black", clip_on=False, zorder=3)
    if placed:
        ax.set_title(f"▲ ▼ on the edge, values beyond the axis: {off_axis_note(curves)}",
                     fontsize=8, pad=12)
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("position (row of the table)")
    ax.set_ylabel("value")
    fig.set_layout_engine("constrained")  # room below the axes for the legend, however long
    fig.legend(loc="outside lower center", ncol=4 if sinusoid is None else 2, fontsize=8,
               frameon=False)
    return save(fig, path)


def component_norms(tokens: list[str], norms: dict[str, np.ndarray], model: str,
                    path: Path) -> Path:
    """Bars of study.component_norms on linear axes from 0, so that their heights compare as the
    numbers do: the terms and their sum above; after LayerNorm, ten times larger, below."""
    fig, (terms_ax, norm_ax) = new_figure("norm of each part of the embedding, per token", model,
                                          rows=2, height_ratios=(2, 1))
    x = np.arange(len(tokens))
    terms = {name: values for name, values in norms.items() if name != "layer_norm"}
    width = 0.8 / len(terms)
    for k, (name, values) in enumerate(terms.items()):
        terms_ax.bar(x + (k - (len(terms) - 1) / 2) * width, values, width,
                     label=name.replace("_", " "), color=TERM_COLOURS[name])
    norm_ax.bar(x, norms["layer_norm"], 0.4, color="tab:purple")
    terms_ax.set_title("the terms and their sum", fontsize=9)
    norm_ax.set_title("after LayerNorm (its own scale)", fontsize=9)
    for ax in (terms_ax, norm_ax):
        ax.set_ylim(0, None)
        ax.set_ylabel("L2 norm")
        ax.grid(axis="y", linewidth=0.5, alpha=0.5)
        ax.set_axisbelow(True)
    terms_ax.set_xticks(x, [])
    norm_ax.set_xticks(x, tokens, rotation=45, ha="right", fontsize=8)
    norm_ax.set_xlabel("token")
    terms_ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=len(terms), fontsize=8,
                    frameon=False)  # above the axes and their title
    fig.tight_layout()
    return save(fig, path)


def token_types(contrast: TokenTypeContrast, model: str, path: Path) -> Path:
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
