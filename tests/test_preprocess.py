"""Each step of the real-image -> MNIST-format preprocessing, on pictures drawn by the tests."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageDraw
from scipy import ndimage

from mnistlab.errors import MnistlabError
from mnistlab.pictures import images
from mnistlab.pictures.images import (
    ImageTooLargeError,
    NoDigitError,
    UnreadableImageError,
    read_image,
)
from mnistlab.pictures.preprocess import (
    centre_by_mass,
    drop_specks,
    edge_width,
    erase_ruling,
    fit_box,
    ink_box,
    ink_bright,
    ink_is_dark,
    is_evenly_lit,
    preprocess,
    remove_background,
    shading,
    stroke_width,
    to_working_size,
)


def seven_strokes(size: int = 200, width: int = 14) -> np.ndarray:
    """A '7' as ink coverage (size, size) float in [0, 1]: a top bar and a slanted stem."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    s = size / 200
    draw.line([(60 * s, 50 * s), (140 * s, 50 * s), (95 * s, 160 * s)], fill=255, width=int(width * s))
    return np.asarray(image, dtype=np.float32) / 255


def on_paper(coverage: np.ndarray, paper: float = 0.9, ink: float = 0.1) -> np.ndarray:
    """Dark ink on light paper, grey in [0, 1]."""
    return paper * (1 - coverage) + ink * coverage


def encode(pixels: np.ndarray, format: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


# --- decoding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["PNG", "JPEG", "BMP", "GIF", "WEBP"])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_every_format_decodes_to_grey_in_unit_range(format, mode):
    grey = on_paper(seven_strokes())
    decoded = read_image(encode(grey, format, mode))
    assert decoded.shape == (200, 200)
    assert decoded.dtype == np.float32
    assert 0 <= decoded.min() and decoded.max() <= 1
    assert abs(float(decoded.mean()) - float(grey.mean())) < 0.03  # lossy formats stay close


def test_rgb_becomes_luma_so_blue_ink_stays_dark():
    coverage = seven_strokes()
    rgb = (
        np.ones((200, 200, 3)) * (1 - coverage[..., None]) + np.array([0.1, 0.15, 0.6]) * coverage[..., None]
    )
    grey = read_image(encode(rgb, "PNG"))
    assert grey[coverage > 0.99].mean() < 0.25  # blue pen ink: luma ~0.2
    assert grey[coverage == 0].mean() > 0.99


def test_transparent_canvas_is_composited_onto_white():
    coverage = seven_strokes()
    rgba = np.zeros((200, 200, 4))
    rgba[..., 3] = coverage  # black ink, transparent elsewhere: a canvas export
    grey = read_image(encode(rgba, "PNG"))
    assert grey[coverage == 0].min() == pytest.approx(1.0)
    assert grey[coverage > 0.99].max() < 0.02


def test_white_strokes_on_a_clear_canvas_stay_visible():
    coverage = seven_strokes()
    rgba = np.ones((200, 200, 4))
    rgba[..., 3] = coverage
    grey = read_image(encode(rgba, "PNG"))
    assert grey[coverage == 0].max() == pytest.approx(0.0)
    assert grey[coverage > 0.99].min() > 0.98


def test_arrays_in_both_value_ranges_and_shapes():
    coverage = seven_strokes(28, 25)  # 3-px strokes
    as_bytes = np.round(coverage * 255).astype(np.uint8)
    np.testing.assert_allclose(read_image(as_bytes), read_image(coverage), atol=1 / 255)
    np.testing.assert_allclose(read_image(as_bytes[..., None]), read_image(coverage), atol=1 / 255)
    assert read_image(as_bytes.astype(np.float64)).max() == pytest.approx(1.0)  # floats over 1 mean 0..255


@pytest.mark.parametrize(
    "pixels, message",
    [
        (np.zeros((4, 4, 2)), r"expected \(H, W\)"),
        (np.full((28, 28), 300.0), "0..255"),
        (np.full((28, 28), -1.0), "0..255"),
        (np.full((28, 28), np.nan), "finite"),
    ],
)
def test_bad_arrays_are_refused_with_a_reason(pixels, message):
    with pytest.raises(UnreadableImageError, match=message):
        read_image(pixels, name="canvas")


def test_not_an_image_and_unsupported_formats_are_refused():
    with pytest.raises(UnreadableImageError, match="notes.txt: not an image"):
        read_image(b"just some text, not pixels", name="notes.txt")
    # PostScript can run code in an interpreter: never opened, even though Pillow knows it.
    with pytest.raises(UnreadableImageError, match="not an image"):
        read_image(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", name="x.eps")


def test_truncated_image_is_corrupt(tmp_path):
    data = encode(on_paper(seven_strokes()), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match="cut.png: corrupt or truncated"):
        read_image(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UnreadableImageError, match="nothing.png: no such file"):
        read_image(tmp_path / "nothing.png")


def test_decompression_bomb_is_refused_before_decoding():
    # 10000 x 6000 one-bit pixels compress to a few kB but would be 60 megapixels.
    buffer = io.BytesIO()
    Image.new("1", (10000, 6000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ImageTooLargeError, match="10000 x 6000"):
        read_image(buffer.getvalue(), name="bomb.png")


def test_large_photos_are_decoded_at_reduced_size():
    big = np.tile(on_paper(seven_strokes(200)), (12, 12))  # 2400 x 2400
    grey = read_image(encode(big, "JPEG"))
    assert max(grey.shape) < 2 * images.MAX_SIDE


def float_tiff(value: float) -> bytes:
    pixels = np.float32(255) * on_paper(seven_strokes()).astype(np.float32)
    pixels[0, 0] = value
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="F").save(buffer, format="TIFF")
    return buffer.getvalue()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_float_tiff_holding_nan_or_inf_is_unreadable(value):
    with pytest.raises(UnreadableImageError, match="scan.tif: the picture holds NaN or infinite values"):
        preprocess(float_tiff(value), name="scan.tif")
    assert read_image(float_tiff(100.0)).max() <= 1  # a finite float TIFF is fine


def test_non_numeric_arrays_are_refused():
    for pixels in (np.full((28, 28), "7"), np.full((28, 28), None), np.ones((28, 28), dtype=complex)):
        with pytest.raises(UnreadableImageError, match="pixel values must be numbers"):
            read_image(pixels, name="canvas")


def test_pixel_limits_depend_on_what_decoding_costs(monkeypatch):
    """Colour is held in 4 bytes a pixel, grey and palette in 1: colour pictures may have fewer pixels."""
    monkeypatch.setattr(images, "MAX_COLOUR_PIXELS", 100 * 100)
    monkeypatch.setattr(images, "MAX_GREY_PIXELS", 400 * 100)
    grey = on_paper(seven_strokes(200))[:100]  # 200 x 100
    assert read_image(encode(grey, "PNG")).shape == (100, 200)
    for mode in ("RGB", "RGBA", "LA"):
        with pytest.raises(
            ImageTooLargeError, match="200 x 100 pixels is more than the 10,000 allowed in a colour"
        ):
            read_image(encode(grey, "PNG", mode), name="wide.png")
    wider = np.tile(grey, (1, 3))  # 600 x 100
    for mode in ("L", "P", "1"):
        with pytest.raises(
            ImageTooLargeError, match="600 x 100 pixels is more than the 40,000 allowed in a grey"
        ):
            read_image(encode(wider, "PNG", mode), name="wide.png")
    assert read_image(encode(wider, "JPEG", "RGB")).shape == (100, 600)  # JPEG decodes reduced
    monkeypatch.setattr(images, "MAX_PIXELS", 30_000)  # JPEG: 30,000, in CMYK half as many
    assert read_image(encode(grey, "JPEG", "RGB")).shape == (100, 200)
    with pytest.raises(
        ImageTooLargeError, match="200 x 100 pixels is more than the 15,000 allowed in a CMYK JPEG"
    ):
        read_image(encode(grey, "JPEG", "CMYK"))


def test_a_phone_photo_and_a_scan_are_admitted_and_decoded_reduced():
    phone = Image.new("RGB", (4032, 3024), (200, 190, 180))  # 12 MP, saved as cameras do (baseline)
    buffer = io.BytesIO()
    phone.save(buffer, format="JPEG", quality=90)
    assert read_image(buffer.getvalue()).shape == (756, 1008)  # drafted at 1/4 scale
    scan = Image.new("L", (2480, 3508), 240)  # an A4 page at 300 dpi, grey
    buffer = io.BytesIO()
    scan.save(buffer, format="PNG")
    assert max(read_image(buffer.getvalue()).shape) < 2 * images.MAX_SIDE


def test_a_progressive_jpeg_is_refused_when_its_pixels_and_bytes_cost_too_much():
    def progressive(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", progressive=True, quality=95)
        return buffer.getvalue()

    assert read_image(progressive(np.full((1000, 1000), 200, np.uint8))).shape == (1000, 1000)
    with pytest.raises(ImageTooLargeError, match="a progressive JPEG of 4000 x 4000 pixels in 0.1 MB costs"):
        read_image(progressive(np.full((4000, 4000), 200, np.uint8)))  # too many pixels
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200), dtype=np.uint8)
    with pytest.raises(ImageTooLargeError, match="1200 x 1200 pixels in 1.[0-9] MB costs too much"):
        read_image(progressive(noise))  # too many bytes to decode: grain, not a digit


def test_exif_orientation_turns_the_picture_upright():
    stored = np.full((100, 200), 0.9)
    stored[:20, :20] = 0.1  # a mark at the stored top left
    image = Image.fromarray(np.round(stored * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90 degrees clockwise
    for format in ("JPEG", "PNG"):
        buffer = io.BytesIO()
        image.save(buffer, format=format, exif=exif.tobytes())
        upright = read_image(buffer.getvalue())
        assert upright.shape == (200, 100), format
        assert upright[:20, -20:].mean() < 0.3 and upright[:20, :20].mean() > 0.7, format  # now top right


@pytest.mark.parametrize("shape", [(1, 640), (640, 1), (7, 2000), (1, 1), (3, 2)])
def test_pictures_of_any_shape_give_a_digit_or_no_digit(shape):
    stripes = np.where(np.arange(shape[1]) % 7 < 2, 0.1, 0.9)[None, :].repeat(shape[0], axis=0)
    try:
        assert preprocess(encode(stripes, "PNG")).shape == (28, 28)
    except NoDigitError:
        pass  # also fine: the point is that nothing else (a singular matrix) is raised


def test_damaged_files_raise_only_image_errors():
    rng = np.random.default_rng(7)
    samples = [
        encode(on_paper(seven_strokes(60)), format) for format in ("PNG", "JPEG", "GIF", "BMP", "WEBP")
    ]
    samples += [encode(on_paper(seven_strokes(60)), "TIFF"), float_tiff(50.0)]
    for data in samples:
        for _ in range(12):
            damaged = bytearray(data)
            for position in rng.integers(0, len(damaged), size=4):
                damaged[position] = rng.integers(0, 256)
            cut = int(rng.integers(len(damaged) // 2, len(damaged) + 1))
            try:
                preprocess(bytes(damaged[:cut]))
            except (UnreadableImageError, ImageTooLargeError, NoDigitError):
                pass


# --- the steps --------------------------------------------------------------------------------------


def test_working_size_brings_the_longer_side_into_range():
    assert max(to_working_size(np.zeros((28, 20))).shape) == 160
    assert to_working_size(np.zeros((2000, 1000))).shape == (640, 320)
    assert to_working_size(np.zeros((300, 200))).shape == (300, 200)


def test_polarity_dark_ink_on_paper_and_light_chalk_on_board():
    coverage = seven_strokes()
    shading = np.linspace(0.6, 1.0, 200)[None, :]  # light falls off across the page
    assert ink_is_dark(on_paper(coverage) * shading)
    assert not ink_is_dark(on_paper(coverage, paper=0.15, ink=0.85) * shading)
    bright = ink_bright(on_paper(coverage))
    assert bright[coverage > 0.99].mean() > bright[coverage == 0].mean() + 0.7


def test_polarity_of_a_bold_digit_filling_the_picture():
    coverage = seven_strokes(200, 60)  # a marker-thick 7: ink is a third of the picture
    vignette = 1 - 0.5 * ((np.mgrid[0:200, 0:200] / 200 - 0.5) ** 2).sum(axis=0)
    assert ink_is_dark(on_paper(coverage) * vignette)
    assert not ink_is_dark(on_paper(coverage, paper=0.1, ink=0.9))


def test_shading_is_the_quadratic_light_field():
    rows, columns = np.mgrid[0:120, 0:160] / 160
    light = 0.9 - 0.3 * columns + 0.2 * rows**2
    np.testing.assert_allclose(shading(light), light, atol=0.02)
    with_ink = light * (1 - 0.8 * seven_strokes(160, 10)[:120])
    assert np.abs(shading(with_ink) - light).mean() < 0.05  # thin ink barely bends the fit


def test_even_light_is_told_from_uneven_light():
    coverage = seven_strokes()
    rng = np.random.default_rng(2)
    assert is_evenly_lit(1 - on_paper(coverage) + rng.normal(scale=0.02, size=(200, 200)))
    gradient = np.linspace(0.5, 1.0, 200)[None, :]
    assert not is_evenly_lit(1 - on_paper(coverage) * gradient)


def test_edge_width_tells_pen_strokes_from_stains():
    sharp = ndimage.gaussian_filter(seven_strokes(), 1.0)
    stain = ndimage.gaussian_filter(seven_strokes(200, 40), 12)
    stain /= stain.max()
    assert edge_width(sharp, 0.5, 1.0) < 6
    assert edge_width(stain, 0.5, 1.0) > 20


def test_stroke_width_of_a_band():
    band = np.zeros((100, 100), dtype=bool)
    band[:, 40:52] = True
    assert stroke_width(band) == pytest.approx(12, rel=0.2)


def test_background_removal_flattens_uneven_light_texture_and_noise():
    rng = np.random.default_rng(0)
    coverage = seven_strokes(300, 12)
    rows, columns = np.mgrid[0:300, 0:300] / 300
    light = 1 - 0.5 * columns - 0.3 * ((rows - 0.5) ** 2 + (columns - 0.5) ** 2)  # gradient + vignette
    texture = (
        ndimage.gaussian_filter(rng.normal(size=(300, 300)), 6) * 0.3 + rng.normal(size=(300, 300)) * 0.02
    )
    picture = (on_paper(coverage) + texture) * light
    strokes = remove_background(ink_bright(picture))
    assert strokes[coverage > 0.99].mean() > 0.8  # ink stretched to (nearly) full contrast
    far_from_ink = ndimage.distance_transform_edt(coverage == 0) > 10
    assert (strokes[far_from_ink] == 0).mean() > 0.99  # paper is exactly black


@pytest.mark.parametrize("kind", ["blank", "noise", "texture"])
def test_no_ink_means_no_digit_rather_than_a_guess(kind):
    rng = np.random.default_rng(1)
    paper = np.full((240, 320), 0.85)
    if kind == "noise":
        paper = paper + rng.normal(scale=0.02, size=paper.shape)
    if kind == "texture":
        paper = paper + ndimage.gaussian_filter(rng.normal(size=paper.shape), 8) * 0.2
    with pytest.raises(NoDigitError, match="no digit found in empty.jpg"):
        preprocess(encode(paper, "JPEG"), name="empty.jpg")
    assert issubclass(NoDigitError, MnistlabError)


def test_stained_shadowed_blank_paper_has_no_digit():
    rng = np.random.default_rng(3)
    rows, columns = np.mgrid[0:300, 0:400] / 300
    stains = ndimage.gaussian_filter(rng.normal(size=(300, 400)), 12)
    paper = 0.85 + stains * 0.05 / stains.std()
    shadow = 1 - 0.35 * ndimage.gaussian_filter((columns > 0.7).astype(float), 12)
    with pytest.raises(NoDigitError):
        preprocess(encode(paper * shadow * (1 - 0.3 * rows), "JPEG"), name="blank.jpg")


def test_specks_are_dropped_and_digit_parts_kept():
    strokes = np.zeros((100, 100), dtype=np.float32)
    strokes[20:80, 45:52] = 1  # the stem of a 4 ...
    strokes[20:50, 20:26] = 1  # ... its separate left stroke (about half the stem's area)
    strokes[90:92, 5:7] = 1  # dust
    strokes[0:30, 0:8] = 1  # leftover shading in a corner, touching the picture's edge
    strokes[60:75, 70:80] = 0.3  # a faint stain that never reaches half the ink level
    cleaned = drop_specks(strokes)
    assert cleaned[90:92, 5:7].sum() == 0
    assert cleaned[0:30, 0:8].sum() == 0 and cleaned[60:75, 70:80].sum() == 0
    assert cleaned[20:50, 20:26].min() == 1 and cleaned[20:80, 45:52].min() == 1
    assert ink_box(cleaned) == (20, 80, 20, 52)


def _ruled(size: int = 240, spacing: int = 45, width: int = 2, tilt: float = 2.0, squared: bool = False):
    """Strokes of a '7' written on a notebook's lines: (the strokes, the 7 alone, the lines alone)."""
    seven = seven_strokes(size)
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    turn = np.deg2rad(tilt)
    lines = np.zeros((size, size), bool)
    for across in [rows * np.cos(turn) - columns * np.sin(turn)] + (
        [columns * np.cos(turn) + rows * np.sin(turn)] if squared else []
    ):
        lines |= (across - 7) % spacing < width
    away = ndimage.distance_transform_edt(seven == 0) > 4  # lines touching the 7 may stay with its strokes
    return np.maximum(seven, 0.8 * lines).astype(np.float32), seven > 0, lines & away


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("tilt", [0.0, 3.5])
def test_the_lines_of_ruled_and_squared_paper_are_erased_and_the_digit_kept(squared, tilt):
    strokes, seven, lines = _ruled(tilt=tilt, squared=squared)
    erased = erase_ruling(strokes)
    assert (erased[lines] > 0).mean() <= 0.01  # the lines are gone ...
    assert (erased[seven] > 0).mean() >= 0.98  # ... and the 7, crossing them, is whole
    found, true = ink_box(drop_specks(erased)), ink_box(np.where(seven, 1.0, 0.0))
    assert np.abs(np.subtract(found, true)).max() <= 2  # a line along a stroke stays with it


def test_straight_strokes_as_wide_as_the_writing_are_not_ruling():
    """A tight crop of 1s (vertical strokes from edge to edge) beside a 7, and hatching: no printed lines."""
    ones = np.zeros((120, 200), np.float32)
    for left in (20, 60):
        ones[:, left : left + 12] = 1.0  # two 1s, each as wide as the 7's strokes
    ones[:, 100:200] = seven_strokes(200, width=12)[40:160, 50:150]
    assert np.array_equal(erase_ruling(ones), ones)
    hatching = np.zeros((200, 200), np.float32)
    for top in range(10, 200, 30):
        hatching[top : top + 8] = 1.0  # parallel pen strokes across the picture: nothing else is left
    assert np.array_equal(erase_ruling(hatching), hatching)
    plain = seven_strokes()  # and a digit on plain paper is not looked at twice
    assert erase_ruling(plain) is plain


def test_ink_box_of_nothing_is_no_digit():
    with pytest.raises(NoDigitError):
        ink_box(np.zeros((10, 10)))


def test_fit_box_keeps_the_aspect_ratio_with_longer_side_20():
    tall = np.ones((120, 40), dtype=np.float32)
    fitted = fit_box(tall)
    assert fitted.shape == (20, 7)
    assert fitted.max() == pytest.approx(1.0)
    assert fit_box(np.ones((5, 10), dtype=np.float32)).shape == (10, 20)  # small digits grow


def test_centre_by_mass_puts_the_centre_of_mass_at_14_14():
    digit = np.zeros((20, 12), dtype=np.float32)
    digit[:6, :] = 1  # top-heavy, like a 7
    digit[:, 8:11] = 1
    field = centre_by_mass(digit)
    assert field.shape == (28, 28)
    centre = ndimage.center_of_mass(field)
    assert abs(centre[0] - 14) <= 0.5 and abs(centre[1] - 14) <= 0.5
    assert field.sum() == pytest.approx(digit.sum())


# --- the whole recipe -------------------------------------------------------------------------------


def test_preprocess_makes_mnist_format_from_a_photo_like_picture():
    picture = on_paper(seven_strokes(400, 20)) * np.linspace(0.7, 1.0, 400)[None, :]
    digit = preprocess(encode(picture, "JPEG"))
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255  # white ink ...
    assert digit[:, :3].max() == 0 and digit[:3, :].max() == 0  # ... on black, inside a margin
    rows = np.flatnonzero(digit.max(axis=1))
    assert rows[-1] - rows[0] + 1 in (20, 21)  # longer side 20 px (+1 for anti-aliasing)
    centre = ndimage.center_of_mass(digit.astype(float))
    assert abs(centre[0] - 14) <= 0.5 and abs(centre[1] - 14) <= 0.5


def test_preprocess_keeps_an_mnist_digit_nearly_unchanged(mnist_dir):
    from recognition_support import mnist_split

    test_images, _ = mnist_split(mnist_dir, "t10k")
    correlations = []
    for original in test_images[:20]:
        again = preprocess(original).astype(float)
        correlations.append(np.corrcoef(again.ravel(), original.astype(float).ravel())[0, 1])
    # MNIST is already in MNIST format: the same digit, at most a pixel's shift or rounding away.
    assert np.median(correlations) > 0.9
    assert min(correlations) > 0.75
