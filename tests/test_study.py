"""The study tools: `bertemb plot` and `bertemb explain`, run on the tiny model (Agg backend).

The numbers behind each figure and each table are checked against a direct NumPy computation
from the weights (within 1e-12 in float64, 1e-5 for float32 outputs), not the formatting.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import bertemb_np as be
from bertemb_np import plots, study
from bertemb_np.cli import main
from conftest import FIXTURES

TINY = FIXTURES / "tiny-model-eps5"  # V=61, H=24, P=20, T=3, with a small WordPiece tokenizer.json
TEXT = "we lived above the clouds, the dog"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_four_pngs_whose_numbers_match_numpy(tmp_path, capsys):
    out = tmp_path / "figures"
    assert main(["plot", "--out", str(out), "--model", str(TINY), "--text", TEXT, "--sinusoid",
                 "--dims", "3"]) == 0
    printed = capsys.readouterr().out
    for name in ("position_similarity", "position_dimensions", "component_norms", "token_types"):
        assert png_size(out / f"{name}.png") == plots.FIGURE_PIXELS, name
        assert f"{name}.png ({plots.FIGURE_PIXELS[0]}x{plots.FIGURE_PIXELS[1]})" in printed
    emb = be.BertEmbeddings.from_pretrained(TINY)
    position = emb.position_embeddings.weight.astype(np.float64)
    with np.load(out / "figures.npz") as numbers:
        direct = np.array([[a @ b / np.sqrt((a @ a) * (b @ b)) for b in position]
                           for a in position])
        np.testing.assert_allclose(numbers["similarity"], direct, atol=1e-12)
        by_offset = [np.mean([direct[i, i + d] for i in range(20 - d)]) for d in range(20)]
        np.testing.assert_allclose(numbers["similarity_by_offset"], by_offset, atol=1e-12)
        assert numbers["band_width"] == next((d for d, s in enumerate(by_offset) if s < 0.5), 20)
        quartiles = np.percentile(position, [25, 75], axis=0)  # spread: interquartile range
        spreads = quartiles[1] - quartiles[0]
        assert list(numbers["top_dimensions"]) == list(np.argsort(-spreads, kind="stable")[:3])
        np.testing.assert_allclose(numbers["spreads"], spreads[numbers["top_dimensions"]],
                                   atol=1e-12)
        ids = be.Tokenizer.from_pretrained(TINY).encode(TEXT)[0]
        w = emb.word_embeddings.weight[ids]
        p = emb.position_embeddings.weight[: len(ids)]
        t = emb.token_type_embeddings.weight[np.zeros(len(ids), int)]
        for key, vectors in (("word", w), ("position", p), ("token_type", t), ("sum", w + t + p)):
            np.testing.assert_allclose(numbers[f"norms_{key}"],
                                       np.sqrt((vectors.astype(np.float64) ** 2).sum(1)),
                                       rtol=1e-6, err_msg=key)
        np.testing.assert_allclose(numbers["norms_layer_norm"],
                                   np.linalg.norm(emb(ids[None])[0], axis=1), rtol=1e-5)
        types = emb.token_type_embeddings.weight
        np.testing.assert_array_equal(numbers["type_difference"], types[1] - types[0])
        np.testing.assert_allclose(numbers["mean_position_norm"],
                                   np.linalg.norm(position, axis=1).mean(), rtol=1e-6)
        wavelengths = numbers["sinusoid_wavelengths"]  # of sine columns 2i: 2 pi 10000^(2i / E)
        columns = np.rint(np.log(wavelengths / (2 * np.pi)) / np.log(10000) * 24).astype(int)
        assert (columns % 2 == 0).all() and len(set(columns)) == 3
        np.testing.assert_allclose(wavelengths, 2 * np.pi * 10000 ** (columns / 24), rtol=1e-12)
        np.testing.assert_allclose(numbers["sinusoids"],
                                   np.sin(np.arange(20)[:, None] / 10000 ** (columns / 24)),
                                   atol=1e-12)
        printed = " ".join(printed.split())
        assert f"wavelengths {', '.join(f'{w:.0f}' for w in wavelengths)}" in printed
        assert_off_axis_reported(numbers, position, printed)


def assert_off_axis_reported(numbers, position: np.ndarray, printed: str) -> None:
    """figures.npz lists every value of the followed dimensions beyond the axis, largest first,
    and the caption names the largest."""
    dims, limit = numbers["top_dimensions"], float(numbers["dimension_limit"])
    values = position[:, dims]  # [P, k]
    assert 0 < limit < np.abs(values).max() or not numbers["off_axis_values"].size
    rows, columns = np.nonzero(np.abs(values) > limit)
    expected = sorted(zip(-np.abs(values[rows, columns]), rows, dims[columns], strict=True))
    assert list(zip(numbers["off_axis_positions"], numbers["off_axis_dimensions"], strict=True)) == [
        (p, d) for _, p, d in expected]
    where = numbers["off_axis_positions"], numbers["off_axis_dimensions"]
    np.testing.assert_array_equal(numbers["off_axis_values"], position[where])
    if expected:
        p, d = expected[0][1:]
        assert f"dim {d} at position {p}: {position[p, d]:.2f}" in printed


def test_plot_mentions_sinusoids_only_when_it_draws_them(tmp_path, capsys):
    assert main(["plot", "--out", str(tmp_path), "--model", str(TINY), "--text", TEXT]) == 0
    assert "sinusoid" not in capsys.readouterr().out.replace(str(tmp_path), "DIR").lower()
    with np.load(tmp_path / "figures.npz") as numbers:
        assert "sinusoids" not in numbers and "sinusoid_wavelengths" not in numbers


@pytest.fixture
def drawn(monkeypatch) -> dict[str, dict]:
    """What each figure `bertemb plot` draws shows, by file name, read as it is saved: its title,
    its axes' titles, y scales and y limits, its legends' labels and boxes, its axes' boxes and
    the centres of its off-axis triangles (in pixels)."""
    figures = {}
    save = plots.save

    def keep(fig, path):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        triangles = [line.get_transform().transform(line.get_xydata())[0]
                     for ax in fig.axes for line in ax.get_lines() if line.get_marker() in "^v"]
        figures[Path(path).name] = {
            "title": fig.get_suptitle(),
            "axes_titles": [ax.get_title() for ax in fig.axes],
            "yscales": [ax.get_yscale() for ax in fig.axes],
            "ylims": [ax.get_ylim() for ax in fig.axes],
            "labels": [text.get_text() for legend in legends for text in legend.get_texts()],
            "legend_boxes": [legend.get_window_extent(renderer) for legend in legends],
            "axes_boxes": [ax.get_window_extent(renderer) for ax in fig.axes],
            "triangles": np.array(triangles).reshape(-1, 2)}
        return save(fig, path)

    monkeypatch.setattr(plots, "save", keep)
    return figures


def test_the_readme_figures_name_the_model_and_keep_legends_off_the_data(
        minilm_dir, tmp_path, capsys, drawn):
    """On the real MiniLM weights, as scripts/figures.sh draws them."""
    out = tmp_path / "figures"
    assert main(["plot", "--out", str(out), "--model", str(minilm_dir), "--sinusoid",
                 "--name", "all-MiniLM-L6-v2"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert sorted(drawn) == sorted(p.name for p in out.glob("*.png")) and len(drawn) == 4
    for name, figure in drawn.items():
        assert png_size(out / name) == plots.FIGURE_PIXELS, name
        assert figure["title"].startswith("all-MiniLM-L6-v2 (bert): "), (name, figure["title"])
        for legend in figure["legend_boxes"]:
            assert not any(legend.overlaps(ax) for ax in figure["axes_boxes"]), name
    labels = drawn["position_dimensions.png"]["labels"]
    assert labels[4:] == [f"sinusoid, wavelength {w}" for w in (519, 253, 129, 63)], labels
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    position = emb.position_embeddings.weight
    with np.load(out / "figures.npz") as numbers:
        assert_off_axis_reported(numbers, position, printed)
        followed = numbers["top_dimensions"]
    assert_every_triangle_visible(drawn["position_dimensions.png"]["triangles"])
    # Dimension 99 has the largest variance, 0.0066, all from one value at position 0 (1.87,
    # [CLS]'s row); elsewhere it is flat. The dimensions followed vary along the whole table:
    # without row 0, each has a standard deviation at least twice dimension 99's.
    flat = position[1:, 99].std()
    assert all(position[1:, d].std() >= 2 * flat for d in followed), (followed, flat)


def assert_every_triangle_visible(centres: np.ndarray) -> None:
    """No off-axis triangle lies under another: their centres are a marker's width apart."""
    width = plots.MARKER_POINTS * plots.DPI / 72  # pixels
    gaps = [np.hypot(*(a - b)) for n, a in enumerate(centres) for b in centres[n + 1:]]
    assert min(gaps, default=width) >= width - 0.5, (gaps, width)  # 0.5 pixel: rounding


def test_values_beyond_the_axis_at_one_place_are_all_visible(tmp_path, drawn):
    """Two followed dimensions with a large value at position 0, on the same side: the old
    figure drew both triangles at one point, the second hidden under the first."""
    position = np.random.default_rng(0).normal(size=(400, 4)) * [0.2, 0.2, 0.1, 0.1]  # [P, H]
    position[0, :2] = [5.0, 4.0]
    curves = study.dimension_curves(position, 2)
    assert sorted(curves["top_dimensions"]) == [0, 1]
    assert list(curves["off_axis_positions"]) == [0, 0]
    plots.dimensions_across_positions(position, curves, None, "toy", tmp_path / "d.png")
    assert len(drawn["d.png"]["triangles"]) == 2
    assert_every_triangle_visible(drawn["d.png"]["triangles"])


def test_top_dimensions_ignore_one_outlying_row():
    """A dimension flat but for one row (BERT's position 0) does not count as varying."""
    rng = np.random.default_rng(1)
    position = np.column_stack([np.full(50, 0.03), np.sin(np.arange(50) / 5) * 0.05,
                                rng.normal(size=50) * 0.001])  # [P, 3]
    position[0, 0] = 1.9
    assert position[:, 0].var() > position[:, 1].var()  # the variance would pick dimension 0
    assert list(study.top_spread_dimensions(position, 2)) == [1, 2]


def test_component_norms_compare_on_linear_axes_from_zero(minilm_dir, tmp_path, drawn):
    """0.45 (position) beside 0.48 (type) beside 1.0 (word) must look like those numbers: bars
    on linear axes from 0; the old figure's log axis started at 0.38."""
    assert main(["plot", "--out", str(tmp_path), "--model", str(minilm_dir)]) == 0
    figure = drawn["component_norms.png"]
    assert figure["yscales"] == ["linear", "linear"], figure["yscales"]
    assert [low for low, _ in figure["ylims"]] == [0, 0], figure["ylims"]
    assert figure["axes_titles"] == ["the terms and their sum", "after LayerNorm (its own scale)"]


def test_plot_on_real_mpnet_weights(mpnet_dir, tmp_path, capsys, drawn):
    """MPNet numbers positions from the padding: its first token takes row pad + 1 = 2, and the
    numbers of its maps are those of rows 2..513, the rows real tokens take."""
    assert main(["plot", "--out", str(tmp_path), "--model", str(mpnet_dir), "--dims", "3"]) == 0
    printed = capsys.readouterr().out
    assert "token_types.png: skipped, this model has no token types" in printed
    # the captions speak of MPNet's numbering, and the band is over the rows real tokens take
    assert "the first real token takes row pad + 1 = 2" in printed, printed
    with np.load(tmp_path / "figures.npz") as numbers:
        assert len(numbers["similarity_by_offset"]) == 512  # rows 2..513, not all 514
    assert sorted(drawn) == ["component_norms.png", "position_dimensions.png",
                             "position_similarity.png"]
    emb = be.AutoEmbeddings.from_pretrained(mpnet_dir)
    position = emb.position_embeddings.weight.astype(np.float64)  # [514, 768]
    first = study.first_token_row(emb)
    assert first == emb.config.pad_token_id + 1 == 2
    table = study.learned_table(emb)
    used = position[2:] / np.linalg.norm(position[2:], axis=1, keepdims=True)  # [512, 768]
    direct = used @ used.T
    by_offset = [np.diagonal(direct, d).mean() for d in range(512)]
    np.testing.assert_allclose(table["similarity_by_offset"], by_offset, atol=1e-12)
    assert table["band_width"] == next((d for d, s in enumerate(by_offset) if s < 0.5), 512)
    share = np.sum(position[2:].mean(0) ** 2) / np.mean(np.sum(position[2:] ** 2, axis=1))
    assert table["mean_row_share"] == pytest.approx(share, rel=1e-12)
    assert not position[1].any()  # the pad row: zero, never trained

    plots.position_similarity(table["similarity"], table["band_width"], "all-mpnet-base-v2",
                              tmp_path / "s.png", first=first, pad=1)
    title = drawn["s.png"]["axes_titles"][0]
    assert f"at d = {table['band_width']} (rows 2..513)" in title, title
    assert ("the first real token takes row pad + 1 = 2; rows 0 and 1 never hold a real token "
            "(row 1: every pad)") in title, title
    curves = study.dimension_curves(position, 3, first=first)
    plots.dimensions_across_positions(position, curves, None, "mpnet", tmp_path / "d.png", first)
    assert "rows 0 and 1: never a real token's" in drawn["d.png"]["labels"]


def test_similarity_maps_side_by_side(minilm_dir, mpnet_dir, tmp_path, drawn):
    """The README's figure: MiniLM's learned table beside MPNet's, titled with their numbers."""
    maps = []
    for name, folder in (("all-MiniLM-L6-v2", minilm_dir), ("all-mpnet-base-v2", mpnet_dir)):
        t = study.learned_table(be.AutoEmbeddings.from_pretrained(folder))
        maps.append((name, t["similarity"], t["band_width"], t["first"], t["mean_row_share"]))
    path = plots.similarity_maps(maps, tmp_path / "maps.png")
    assert png_size(path) == plots.FIGURE_PIXELS
    titles = drawn["maps.png"]["axes_titles"]
    assert titles[0].startswith("all-MiniLM-L6-v2\n512 rows, first token at row 0\n")
    assert titles[1].startswith("all-mpnet-base-v2\n514 rows, rows 0 and 1 unused, "
                                "first token at row 2\n")
    for title, (*_, band, _, share) in zip(titles[:len(maps)], maps, strict=True):  # then the colour bar
        assert f"from d = {band} apart" in title and f"holds {share:.0%} of" in title


@pytest.mark.parametrize("args, message", [
    (["--text", "   "], "the text is empty"),
    (["--text", ""], "the text is empty"),
])
def test_plot_refuses_an_empty_sentence(tmp_path, capsys, args, message):
    assert main(["plot", "--out", str(tmp_path), "--model", str(TINY), *args]) == 1
    assert message in capsys.readouterr().err


def test_plot_refuses_a_model_without_position_embeddings(tmp_path, capsys):
    folder = tmp_path / "no-positions"
    shutil.copytree(TINY, folder)
    tensors = load_file(folder / "model.safetensors")
    del tensors["embeddings.position_embeddings.weight"]
    save_file(tensors, folder / "model.safetensors")
    assert main(["plot", "--out", str(tmp_path / "out"), "--model", str(folder)]) == 1
    assert "missing tensor position_embeddings.weight" in capsys.readouterr().err


def test_explain_json_numbers_match_the_library(capsys):
    assert main(["explain", TEXT, "--pair", "he bought milk", "--model", str(TINY), "--json"]) == 0
    walk = json.loads(capsys.readouterr().out)
    tok, emb = be.Tokenizer.from_pretrained(TINY), be.BertEmbeddings.from_pretrained(TINY)
    enc = tok(TEXT, "he bought milk")
    ids, types = enc["input_ids"][0], enc["token_type_ids"][0]
    out = emb(enc["input_ids"], token_type_ids=enc["token_type_ids"])[0]
    total = (emb.word_embeddings.weight[ids] + emb.token_type_embeddings.weight[types]
             + emb.position_embeddings.weight[: len(ids)])
    assert [r["id"] for r in walk["tokens"]] == ids.tolist()
    assert [r["type"] for r in walk["tokens"]] == types.tolist() and 1 in types
    assert [r["token"] for r in walk["tokens"]] == tok.convert_ids_to_tokens(ids)
    for p, r in enumerate(walk["tokens"]):
        assert r["position"] == p
        for key, row in (("word_norm", emb.word_embeddings.weight[ids[p]]),
                         ("position_norm", emb.position_embeddings.weight[p]),
                         ("type_norm", emb.token_type_embeddings.weight[types[p]])):
            assert r[key] == pytest.approx(np.linalg.norm(row), rel=1e-6), key
        assert r["sum_mean"] == pytest.approx(total[p].mean(), abs=1e-6)
        assert r["sum_std"] == pytest.approx(total[p].std(), rel=1e-5)
        assert r["output_norm"] == pytest.approx(np.linalg.norm(out[p]), rel=1e-5)
    # float32 rounding: the hot path adds in another order
    assert walk["max_abs_diff_module_vs_by_hand"] <= 1e-5
    the = tok.convert_ids_to_tokens(ids).index("the")
    repeat = next(r for r in walk["repeats"] if r["id"] == ids[the])
    assert repeat["positions"] == np.flatnonzero(ids == ids[the]).tolist()
    assert len(repeat["positions"]) == 2
    assert walk["shapes"]["LayerNorm(sum)"] == [1, len(ids), 24]


def test_explain_reads_in_80_columns(capsys):
    assert main(["explain", TEXT, "--model", str(TINY)]) == 0
    printed = capsys.readouterr().out
    assert "max |diff|" in printed and "the same word row each time" in printed
    assert max(len(line) for line in printed.splitlines()) <= 80


def test_explain_says_which_repeats_differ_in_token_type(capsys):
    """A pair: [SEP] and "dog" repeat with types 0, 1, "the" with 0, 0, 1, "the" of sentence A
    alone with 0, 0: only where the type differs does the token type row add to the difference."""
    tok = be.Tokenizer.from_pretrained(TINY)
    ids = tok(TEXT, "the dog")["input_ids"][0]
    id_of = dict(zip(tok.convert_ids_to_tokens(ids), ids.tolist(), strict=True))
    assert main(["explain", TEXT, "--pair", "the dog", "--model", str(TINY)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    for token, positions, types in (("[SEP]", [9, 12], [0, 1]), ("the", [4, 7, 10], [0, 0, 1]),
                                    ("dog", [8, 11], [0, 1])):
        assert (f"{token!r} (id {id_of[token]}) is at positions {positions}, token types {types}: "
                "the same word row each time, but a different position row and a different token "
                "type row where the type differs, so the outputs differ") in printed, token
    assert main(["explain", TEXT, "--model", str(TINY)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert ("is at positions [4, 7]: the same word row each time, but a different position row, "
            "so the outputs differ") in printed


def test_help_lists_every_subcommand_with_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    for command in ("embed", "plot", "explain"):
        assert sum(line.strip().startswith(command) for line in printed.splitlines()) == 1


def test_explain_shows_the_position_ids_roberta_really_uses(capsys):
    """RoBERTa numbers tokens from pad_token_id + 1 = 2: explain shows those ids, and no types."""
    folder = FIXTURES / "tiny-roberta"
    assert main(["explain", "we lived above the clouds", "--model", str(folder), "--json"]) == 0
    walk = json.loads(capsys.readouterr().out)
    L = len(walk["tokens"])
    assert [r["position"] for r in walk["tokens"]] == list(range(2, 2 + L))
    assert walk["terms"] == ["word", "token_type", "position"] and walk["model_type"] == "roberta"
    emb = be.AutoEmbeddings.from_pretrained(folder)
    assert walk["tokens"][0]["position_norm"] == pytest.approx(
        np.linalg.norm(emb.position_embeddings.weight[2]), rel=1e-6)
    assert walk["max_abs_diff_module_vs_by_hand"] <= 1e-5


def test_study_tools_on_a_family_without_positions(tmp_path, capsys):
    """ModernBERT's positions are rotary: the position figures are skipped with a clear line, and
    explain says repeated tokens come out identical from this layer."""
    folder = tmp_path / "modernbert"
    shutil.copytree(FIXTURES / "tiny-modernbert", folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):  # a WordPiece vocabulary: 60 < V = 96
        shutil.copy(FIXTURES / "tiny-distilbert" / name, folder / name)
    assert main(["plot", "--out", str(tmp_path / "out"), "--model", str(folder),
                 "--text", "the dog the"]) == 0
    printed = capsys.readouterr().out
    assert ("position_similarity.png, position_dimensions.png: skipped, "
            "modernbert has no position table") in printed
    assert png_size(tmp_path / "out" / "component_norms.png") == plots.FIGURE_PIXELS
    assert not (tmp_path / "out" / "position_similarity.png").exists()
    assert main(["explain", "the dog the", "--model", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "modernbert: the sum is word" in printed
    assert "the outputs are identical here" in " ".join(printed.split())


def test_readme_figure_texts_give_the_numbers_of_the_figures(minilm_dir, mpnet_dir):
    """Every number the README says of its figures is the library's, on the real weights."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = " ".join(readme[readme.index("## Study tools"):
                              readme.index("## Pointing at any checkpoint")].split())
    minilm, mpnet = (be.AutoEmbeddings.from_pretrained(f) for f in (minilm_dir, mpnet_dir))
    bert = study.learned_table(minilm)
    near = bert["similarity_by_offset"]
    far = int(np.argmin(near[:400]))
    position = minilm.position_embeddings.weight
    flat = int(np.argmax(position.var(axis=0)))
    curves = study.dimension_curves(position, 4)
    ids = be.Tokenizer.from_pretrained(minilm_dir).encode("We lived above the clouds")[0]
    norms = study.component_norms(minilm, ids, np.zeros_like(ids))
    types = study.token_type_contrast(minilm)
    roberta_like = study.learned_table(mpnet)
    centred = []
    for emb, table in ((mpnet, roberta_like), (minilm, bert)):
        rows = emb.position_embeddings.weight[table["first"]:].astype(np.float64)
        centred.append(study.band_width(study.position_similarity(rows - rows.mean(0)))[1])
    expected = [
        f"next one is {near[1]:.2f} on average, and it falls below 0.5 only {bert['band_width']} "
        "positions away",
        f"climbs back to {near[6]:.2f} at 6 positions apart and {near[12]:.2f} at 12",
        f"far apart ({far} positions) vectors are mildly opposed ({near[far]:.2f})",
        f"dimension {flat} would come first: flat everywhere but at position 0, where it holds "
        f"{position[0, flat]:.2f}",
        "Position 0 still stands out in two of them ("
        + " and ".join(f"{v:.2f}" for v in curves["off_axis_values"]) + ", marked on the edges)",
        f"word rows carry most of the sum (norms {norms['word'].min():.2f} to "
        f"{norms['word'].max():.2f})",
        f"the position rows about {np.median(norms['position'][1:]):.2f} "
        f"({norms['position'][0]:.2f} at position 0",
        f"the token-type row {norms['token_type'][0]:.2f}",
        f"norms of {norms['layer_norm'].min():.2f} to {norms['layer_norm'].max():.2f}",
        f"({types['norm_a']:.2f} and {types['norm_b']:.2f} against "
        f"{types['mean_position_norm']:.2f}), but differ from each other by only "
        f"{types['difference_norm']:.2f}",
        f"from the pad id + 1 = {roberta_like['first']}: rows 0 and 1 never hold a real token",
        f"{roberta_like['mean_row_share']:.0%} of the squared length of its rows is one vector "
        f"shared by all of them ({bert['mean_row_share']:.0%} in MiniLM)",
        f"its band is {centred[0]} positions wide, against MiniLM's {centred[1]}",
    ]
    assert len(curves["off_axis_values"]) == 2 and not mpnet.position_embeddings.weight[1].any()
    assert centred[1] == bert["band_width"]  # MiniLM's band: the same with or without its mean
    for phrase in expected:
        assert phrase in section, phrase


def test_first_token_row_of_a_family_without_a_table_is_an_error():
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-modernbert")
    with pytest.raises(ValueError, match="modernbert has no position table: no first row"):
        study.first_token_row(emb)
    assert study.first_token_row(be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-roberta")) == 2
    assert study.first_token_row(be.AutoEmbeddings.from_pretrained(TINY)) == 0
