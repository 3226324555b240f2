"""The one-file HTML report: self-contained, escaped, one map per method, decodable pictures."""

import base64
import dataclasses
import io
import re
import subprocess
import sys
from datetime import UTC, datetime
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from explainers.api import Explanation, explain_all
from explainers.methods import METHODS
from explainers.render import encode_png
from explainers.report import (
    PNG_SIGNATURE,
    format_score,
    render_report,
    render_report_bytes,
    report_filename,
    score_help,
)

NAMES = ["grad_cam", "integrated_gradients", "lime"]
EVIL = "<script>alert('x')</script>"
WHEN = datetime(2026, 5, 9, 14, 30, tzinfo=UTC)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictParser(HTMLParser):
    """Collects tags and attributes, and fails on an end tag that closes nothing or the wrong element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    return parser


@pytest.fixture(scope="module")
def picture(rng_image):
    return rng_image(40, 24, seed=7)


@pytest.fixture(scope="module")
def maps(tiny_cnn, picture):
    """Three real maps from the tiny CNN (quick settings), with a label that tries to inject a script."""
    computed = explain_all(
        tiny_cnn,
        picture,
        NAMES,
        target=2,
        params={"integrated_gradients": {"steps": 4}, "lime": {"n_samples": 16, "segments": 8}},
    )
    predictions = [(2, EVIL, 0.5), (0, "class 0", 0.2), (1, "class 1", 0.1)]
    return {name: dataclasses.replace(e, label=EVIL, predictions=predictions) for name, e in computed.items()}


SCORES = {
    "grad_cam": {
        "pointing_game": 1,
        "Deletion AUC": 0.1234,
        "insertion_auc": 0.8771,
        "sanity_rank_correlation": 0.0512,
    },
    "integrated_gradients": {"pointing_game": 0, "Deletion AUC": 0.2345, "insertion_auc": 0.65432},
    "lime": {"Deletion AUC": 0.3456, "insertion_auc": 0.5, "sanity_rank_correlation": -0.0712},
}


def report(maps, picture, **kwargs):
    kwargs = {
        "model": "tiny_cnn",
        "weights": "random (seed 0)",
        "created": WHEN,
        "picture_name": 'cat "<b>".jpg',
        "scores": SCORES,
        "versions": {"explainers": "0.1.0", "numpy": np.__version__},
        **kwargs,
    }
    return render_report(picture, maps, **kwargs)


def images(parser):
    return [attrs for tag, attrs in parser.tags if tag == "img"]


def decode(src: str) -> Image.Image:
    assert src.startswith("data:image/png;base64,")
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data.startswith(PNG_SIGNATURE)
    return Image.open(io.BytesIO(data))


def test_report_parses_and_holds_one_map_per_method_plus_the_picture(maps, picture):
    page = report(maps, picture)
    parser = parse(page)
    assert len(images(parser)) == len(NAMES) + 1
    for name in NAMES:
        assert METHODS[name].title in page
        assert METHODS[name].card.computes.replace("'", "&#39;") in page
    assert "2 · &lt;script&gt;" in page  # class explained as index · label
    assert "Top-5 predictions" in page and "50.0 %" in page
    assert "Completeness error" in page  # integrated gradients' note
    assert "2026-05-09 14:30" in page


def test_every_score_is_shown_formatted_with_its_explanation(maps, picture):
    page = report(maps, picture)
    for values in SCORES.values():
        for value in values.values():
            assert format_score(value) in page
    assert format_score(0.1234) == "0.123" and format_score(0.65432) == "0.654" and format_score(1) == "1"
    assert "lower is better" in page and "higher is better" in page.lower()
    assert re.search(r'class="num best">0\.123 ★', page)  # lowest deletion AUC is best
    assert re.search(r'class="num best">0\.877 ★', page)  # highest insertion AUC is best
    assert score_help("Deletion AUC")[1] == "lower" and score_help("unknown thing") is None
    assert score_help("sanity SSIM")[1] == "lower" and score_help("Spearman rank correlation")[1] == "zero"
    assert re.search(r'class="num best">0\.0512 ★', page)  # sanity: closest to 0, whatever the sign


def test_nothing_is_loaded_from_the_web_only_paper_links(maps, picture):
    page = report(maps, picture)
    parser = parse(page)
    papers = {METHODS[name].card.paper_url for name in NAMES}
    hrefs = [attrs["href"] for tag, attrs in parser.tags if "href" in attrs]
    assert hrefs and set(hrefs) <= papers and all(tag == "a" for tag, attrs in parser.tags if "href" in attrs)
    for tag, attrs in parser.tags:
        assert tag not in {"script", "link", "iframe", "object", "embed"}
        for key in ("src", "srcset", "poster", "data", "action"):
            if key in attrs:
                assert attrs[key].startswith("data:image/png;base64,"), (tag, key)
    without_links = re.sub(r'href="[^"]*"', "", page)
    assert "http://" not in without_links and "https://" not in without_links
    assert "Content-Security-Policy" in page


def test_user_strings_are_escaped(maps, picture):
    page = report(maps, picture, title="Homework <i>1</i>", versions={"<b>pkg</b>": "1 & 2"})
    parser = parse(page)
    assert "<script" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert 'cat &#34;&lt;b&gt;&#34;.jpg' in page and "<b>pkg</b>" not in page and "1 &amp; 2" in page
    assert "Homework &lt;i&gt;1&lt;/i&gt;" in page
    assert not any(tag == "i" for tag, _ in parser.tags)


def test_no_user_string_reaches_the_page_as_markup(picture):
    """Layer names, notes, settings, errors, score names, model, weights and figure captions are escaped too."""
    attack = "<script>alert(1)</script>"
    heatmap = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    explanation = Explanation(
        method="occlusion",
        model=attack,
        heatmap=heatmap,
        attributions=None,
        target=1,
        label=attack,
        layer=attack,
        params={attack: attack},
        seconds=0.5,
        predictions=[(1, attack, 0.9)],
        meta={"weights": attack, "notes": [attack]},
    )
    page = render_report(
        picture,
        {"occlusion": explanation, attack: RuntimeError(attack)},
        created=WHEN,
        scores={attack: {attack: 1}},
        images=[(attack, encode_png(np.zeros((4, 4, 3), np.uint8)))],
        parameters={attack: attack},
    )
    parser = parse(page)
    assert "<script" not in page and not any(tag == "script" for tag, _ in parser.tags)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    # 13 in the page (title bar twice, model, weights, class, layer twice, prediction, setting key and value,
    # note, error entry's name and message, ...) and 16 in the parameters JSON of the footer
    assert page.count(escaped) == 29


def test_a_model_given_by_name_is_shown_by_that_name(maps, picture):
    page = report(maps, picture, model="VGG16 <tiny>")
    assert "<tr><th>Model</th><td>VGG16 &lt;tiny&gt;</td></tr>" in page and "built-in method" not in page


def test_random_weights_are_flagged_loudly(maps, picture, tiny_cnn):
    assert "maps are meaningless" in report(maps, picture)
    assert "maps are meaningless" not in report(maps, picture, weights="imagenet")
    assert "maps are meaningless" in report(maps, picture, weights="imagenet", random_weights=True)
    # read from the model object when not given
    assert "maps are meaningless" not in report(maps, picture, model=tiny_cnn, weights=None)


def test_embedded_pictures_decode_at_the_right_size(maps, picture):
    curve = encode_png(np.zeros((30, 50, 3), np.uint8))
    page = report(maps, picture, images=[("Deletion curve <1>", curve)])
    found = images(parse(page))
    assert len(found) == len(NAMES) + 2 and "Deletion curve &lt;1&gt;" in page
    for attrs in found[:-1]:  # the picture and the three maps, at the picture's size
        with decode(attrs["src"]) as image:
            assert image.size == (picture.shape[1], picture.shape[0]) and image.mode == "RGB"
        assert (attrs["width"], attrs["height"]) == (str(picture.shape[1]), str(picture.shape[0]))
    with decode(found[-1]["src"]) as image:
        assert image.size == (50, 30)
    with pytest.raises(ValueError, match="not a PNG"):
        report(maps, picture, images=[("curve", b"GIF89a")])


def test_large_pictures_are_shown_smaller(maps):
    big = np.random.default_rng(1).integers(0, 256, (900, 600, 3), dtype=np.uint8)
    found = images(parse(report(maps, big, max_side=300)))
    for attrs in found:
        with decode(attrs["src"]) as image:
            assert image.size == (200, 300)


def test_a_method_that_failed_is_listed_without_a_map(maps, picture):
    from explainers.errors import NotApplicableError

    entries = {**maps, "cam": NotApplicableError("CAM does not apply to <this> model.")}
    page = report(maps=entries, picture=picture)
    assert len(images(parse(page))) == len(NAMES) + 1
    assert "Not computed: CAM does not apply to &lt;this&gt; model." in page and METHODS["cam"].title in page
    with pytest.raises(ValueError, match="at least one computed map"):
        render_report(picture, {"cam": NotApplicableError("no")})


def test_hand_built_explanations_and_bytes(picture):
    """No model needed: Explanation objects built by hand (a signed and an unsigned map)."""
    heatmap = np.linspace(-1, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    common = dict(
        model="m",
        attributions=None,
        target=1,
        label="dog",
        layer=None,
        seconds=0.5,
        predictions=[(1, "dog", 0.9)],
        meta={"weights": "imagenet"},
    )
    e1 = Explanation(method="occlusion", heatmap=heatmap, params={"patch": 4}, signed=True, **common)
    e2 = Explanation(method="vanilla_gradient", heatmap=np.abs(heatmap), params={}, **common)
    data = render_report_bytes(picture, [e1, e2], created=WHEN)
    page = data.decode("utf-8")
    assert len(images(parse(page))) == 3 and "against the class" in page and "maps are meaningless" not in page


def test_report_filename_is_safe():
    name = report_filename("vgg16", "tabby, tabby cat / <x> café", 3)
    assert name == "saliency_vgg16_tabby-tabby-cat-x-cafe_3-methods.html"
    assert re.fullmatch(r"[A-Za-z0-9._-]+", report_filename("../../etc", "../passwd", 1, created=WHEN))
    assert report_filename("m", "", 1, created=WHEN) == "saliency_m_class_1-method_20260509-1430.html"


def test_the_report_module_needs_neither_tensorflow_nor_dash():
    code = (
        "import sys, explainers.report; "
        "assert 'tensorflow' not in sys.modules and 'dash' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[1]))
