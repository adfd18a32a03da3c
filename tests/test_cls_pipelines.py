"""mmcls 0.x pipeline transforms implemented on torchvision."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from cls_data_support import NORM_RGB, write_image
from minim.cls.datasets import PIPELINES, Compose
from minim.cls.datasets.pipelines import read_image, results_from_array
from minim.errors import BuildError, DataError

MEAN = torch.tensor(NORM_RGB["mean"]).view(3, 1, 1)
STD = torch.tensor(NORM_RGB["std"]).view(3, 1, 1)


def build(cfg):
    return PIPELINES.build(cfg)


def load(path, **kwargs):
    return build(dict(type="LoadImageFromFile", **kwargs))({"img_prefix": str(path.parent), "img_info": {"filename": path.name}})


def gradient_image(tmp_path, width=40, height=30, name="g.png"):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / name)
    return tmp_path / name, array


# -- loading -----------------------------------------------------------------------------------


def test_load_image_gives_rgb_chw_uint8_and_mmcls_meta(tmp_path):
    path, array = gradient_image(tmp_path)
    results = load(path)
    img = results["img"]
    assert img.dtype == torch.uint8 and img.shape == (3, 30, 40)
    assert torch.equal(img, torch.from_numpy(array).permute(2, 0, 1))  # RGB order
    assert results["img_shape"] == results["ori_shape"] == (30, 40, 3)
    assert results["filename"] == str(path) and results["ori_filename"] == "g.png"
    assert results["img_norm_cfg"]["to_rgb"] is False
    assert load(path, to_float32=True)["img"].dtype == torch.float32


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".ppm", ".tif", ".webp"])
def test_load_formats(tmp_path, suffix):
    path = write_image(tmp_path / f"x{suffix}", size=(9, 7), color=(250, 0, 0))
    img = read_image(path)
    assert img.shape == (3, 7, 9) and img[0].float().mean() > 200 and img[2].float().mean() < 40


def test_exif_orientation_is_applied_as_opencv_does(tmp_path):
    array = np.zeros((4, 6, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert read_image(tmp_path / "rotated.jpg").shape == (3, 6, 4)


def test_grayscale_png_is_three_channels_in_color_mode(tmp_path):
    path = write_image(tmp_path / "g.png", color=(77,), mode="L")
    assert load(path)["img"].shape[0] == 3
    assert load(path, color_type="grayscale")["img"].shape[0] == 1
    assert load(path, color_type="unchanged")["img"].shape[0] == 1


def test_16_bit_grayscale_keeps_its_high_byte_in_every_color_type(tmp_path):
    values = (np.arange(48 * 32).reshape(32, 48) * 37 % 65536).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "depth.png")
    expected = torch.from_numpy((values >> 8).astype(np.uint8))
    assert torch.equal(read_image(tmp_path / "depth.png", "color"), expected.expand(3, -1, -1))
    assert torch.equal(read_image(tmp_path / "depth.png", "grayscale")[0], expected)
    assert torch.equal(read_image(tmp_path / "depth.png", "unchanged")[0], expected)


def test_annotation_images_are_decoded_as_the_model_sees_them(tmp_path):
    from minim.cls.apis.inference import load_rgb

    array = np.zeros((4, 6, 3), dtype=np.uint8)
    array[0] = 255  # top row white as stored; the EXIF tag turns it into the right-hand column
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(tmp_path / "rotated.png", exif=exif)
    shown = load_rgb(str(tmp_path / "rotated.png"))
    assert shown.shape == (6, 4, 3)
    assert np.array_equal(shown, read_image(tmp_path / "rotated.png").permute(1, 2, 0).numpy())


def test_unreadable_images_name_their_path(tmp_path):
    with pytest.raises(DataError, match=f"cannot read image {tmp_path / 'none.png'}"):
        read_image(tmp_path / "none.png")
    (tmp_path / "trunc.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(DataError, match="cannot decode image .*trunc.jpg"):
        read_image(tmp_path / "trunc.jpg")
    with pytest.raises(BuildError, match="color_type"):
        build(dict(type="LoadImageFromFile", color_type="bgr"))
    with pytest.raises(BuildError, match="local files only"):
        build(dict(type="LoadImageFromFile", file_client_args=dict(backend="petrel")))


# -- Normalize and channel order --------------------------------------------------------------


def test_normalize_to_rgb_on_file_images_gives_rgb(tmp_path):
    path, array = gradient_image(tmp_path)
    out = build(dict(type="Normalize", **NORM_RGB))(load(path))
    expected = (torch.from_numpy(array).permute(2, 0, 1).float() - MEAN) / STD
    assert out["img"].dtype == torch.float32 and torch.allclose(out["img"], expected, atol=1e-5)
    assert out["img_norm_cfg"]["to_rgb"] is True


def test_normalize_without_to_rgb_reproduces_mmcls_bgr_output(tmp_path):
    path, array = gradient_image(tmp_path)
    mean, std = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    out = build(dict(type="Normalize", mean=mean, std=std, to_rgb=False))(load(path))
    bgr = torch.from_numpy(array[:, :, ::-1].copy()).permute(2, 0, 1).float()  # what mmcls held
    expected = (bgr - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    assert torch.allclose(out["img"], expected)


@pytest.mark.parametrize("to_rgb", [True, False])
def test_arrays_in_either_order_normalize_like_the_file(tmp_path, to_rgb):
    path, rgb = gradient_image(tmp_path)
    normalize = build(dict(type="Normalize", mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], to_rgb=to_rgb))
    from_file = normalize(load(path))["img"]
    from_rgb = normalize(results_from_array(rgb, bgr=False))["img"]  # PIL / matplotlib arrays
    from_bgr = normalize(results_from_array(rgb[:, :, ::-1].copy(), bgr=True))  # cv2-style, as mmcls takes
    assert torch.equal(from_rgb, from_file) and torch.equal(from_bgr["img"], from_file)
    expected = torch.from_numpy((rgb if to_rgb else rgb[:, :, ::-1]).copy()).permute(2, 0, 1).float()
    assert torch.allclose(from_file, (expected - torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1))
                          / torch.tensor([4.0, 5.0, 6.0]).view(3, 1, 1))


def test_normalize_does_not_modify_float_inputs_in_place():
    img = torch.full((3, 2, 2), 10.0)
    build(dict(type="Normalize", mean=[1, 1, 1], std=[2, 2, 2]))({"img": img})
    assert torch.all(img == 10.0)
    with pytest.raises(BuildError, match="same length"):
        build(dict(type="Normalize", mean=[1, 2], std=[1]))
    with pytest.raises(DataError, match="channel"):
        build(dict(type="Normalize", mean=[1, 2, 3], std=[1, 1, 1]))({"img": torch.zeros(1, 2, 2, dtype=torch.uint8)})


# -- geometry ----------------------------------------------------------------------------------


def _img(h=300, w=400):
    return {"img": torch.randint(0, 256, (3, h, w), dtype=torch.uint8)}


@pytest.mark.parametrize(
    "size, side, expected",
    [
        (224, "short", (224, 224)),
        ((100, 50), "short", (100, 50)),
        ([256, -1], "short", (256, 341)),
        ((256, -1), "long", (192, 256)),
        ((256, -1), "height", (256, 341)),
        ((256, -1), "width", (192, 256)),
        ((300, -1), "short", (300, 400)),
    ],
)
def test_resize_sizes(size, side, expected):
    out = build(dict(type="Resize", size=size, adaptive_side=side))(_img())
    assert tuple(out["img"].shape[1:]) == expected and out["img_shape"] == (*expected, 3)
    assert out["img"].dtype == torch.uint8


def test_resize_rejects_bad_arguments():
    for cfg in (dict(size=(0, 3)), dict(size=(-1, 5)), dict(size="big"), dict(size=8, adaptive_side="diag"),
                dict(size=8, interpolation="box"), dict(size=8, backend="skimage")):
        with pytest.raises(BuildError):
            build(dict(type="Resize", **cfg))


def test_pillow_test_pipeline_equals_torchvision_on_pil_images(tmp_path):
    """backend='pillow' is what torchvision's PIL-based evaluation does (its weights' published accuracy)."""
    from PIL import Image

    path, array = gradient_image(tmp_path, width=320, height=250)
    pipeline = Compose([
        dict(type="LoadImageFromFile"),
        dict(type="Resize", size=(256, -1), backend="pillow"),
        dict(type="CenterCrop", crop_size=224),
        dict(type="Normalize", **NORM_RGB),
        dict(type="ImageToTensor", keys=["img"]),
        dict(type="Collect", keys=["img"]),
    ])
    out = pipeline({"img_prefix": str(tmp_path), "img_info": {"filename": path.name}})
    reference = v2.Compose([
        v2.Resize(256, antialias=True),
        v2.CenterCrop(224),
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([m / 255 for m in NORM_RGB["mean"]], [s / 255 for s in NORM_RGB["std"]]),
    ])(Image.fromarray(array))
    assert out["img"].shape == (3, 224, 224)
    assert torch.allclose(out["img"], reference, atol=1e-4)
    assert set(out) == {"img", "img_metas"} and out["img_metas"]["img_shape"] == (224, 224, 3)


def test_center_crop_and_efficientnet_style():
    out = build(dict(type="CenterCrop", crop_size=(100, 50)))(_img())
    assert tuple(out["img"].shape[1:]) == (100, 50)
    out = build(dict(type="CenterCrop", crop_size=224, efficientnet_style=True, interpolation="bicubic"))(_img())
    assert tuple(out["img"].shape[1:]) == (224, 224)
    with pytest.raises(BuildError, match="square"):
        build(dict(type="CenterCrop", crop_size=(3, 4), efficientnet_style=True))


def test_random_crop_padding_and_pad_if_needed():
    img = torch.arange(16, dtype=torch.uint8).reshape(1, 4, 4).repeat(3, 1, 1)
    out = build(dict(type="RandomCrop", size=4, padding=2, pad_val=0))({"img": img})
    assert out["img"].shape == (3, 4, 4)
    out = build(dict(type="RandomCrop", size=(6, 6), pad_if_needed=True, padding_mode="reflect"))({"img": img})
    assert out["img"].shape == (3, 6, 6)
    with pytest.raises(DataError, match="pad_if_needed"):
        build(dict(type="RandomCrop", size=8))({"img": img})
    with pytest.raises(BuildError, match="padding_mode"):
        build(dict(type="RandomCrop", size=8, padding_mode="wrap"))


def test_random_crop_pad_val_is_in_mmcls_channel_order():
    img = torch.zeros(3, 1, 1, dtype=torch.uint8)
    results = {"img": img, "channel_order": "rgb", "mmcls_order": "bgr"}
    out = build(dict(type="RandomCrop", size=5, padding=2, pad_val=(1, 2, 3)))(results)
    assert out["img"][:, 0, 0].tolist() == [3, 2, 1]  # BGR pad_val -> RGB tensor


def test_random_resized_crop():
    out = build(dict(type="RandomResizedCrop", size=64, scale=(0.5, 1.0)))(_img())
    assert out["img"].shape == (3, 64, 64) and out["img_shape"] == (64, 64, 3)
    transform = build(dict(type="RandomResizedCrop", size=(32, 48), max_attempts=0))
    assert transform.crop_box(300, 400) == (0, 0, 300, 400)  # centre-crop fallback keeps 4:3
    assert transform.crop_box(100, 400) == (0, 133, 100, 133)
    with pytest.raises(BuildError, match="min <= max"):
        build(dict(type="RandomResizedCrop", size=8, scale=(1.0, 0.5)))


def test_efficientnet_style_random_resized_crop():
    transform = build(dict(type="RandomResizedCrop", size=224, efficientnet_style=True, min_covered=0.1))
    random.seed(0)
    for _ in range(200):
        top, left, h, w = transform.crop_box(300, 400)
        assert 0 <= top <= 300 - h and 0 <= left <= 400 - w
        assert 0.08 * 120000 <= h * w <= 120000 and h * w >= 0.1 * 120000
        assert 3 / 4 - 0.02 <= w / h <= 4 / 3 + 0.02  # the aspect ratio, up to rounding
    # nothing fits (no attempts): the centre square of 224/(224+32) of the short side
    fallback = build(dict(type="RandomResizedCrop", size=224, efficientnet_style=True, max_attempts=0))
    assert fallback.crop_box(300, 400) == (19, 69, 262, 262)
    assert fallback(dict(img=torch.zeros(3, 300, 400, dtype=torch.uint8)))["img"].shape == (3, 224, 224)
    with pytest.raises(BuildError, match="needs a square size"):
        build(dict(type="RandomResizedCrop", size=(224, 256), efficientnet_style=True))


def test_random_flip():
    img = torch.arange(12, dtype=torch.uint8).reshape(1, 3, 4).repeat(3, 1, 1)
    out = build(dict(type="RandomFlip", flip_prob=1.0))({"img": img})
    assert torch.equal(out["img"], img.flip(-1)) and out["flip"] is True and out["flip_direction"] == "horizontal"
    out = build(dict(type="RandomFlip", flip_prob=1.0, direction="vertical"))({"img": img})
    assert torch.equal(out["img"], img.flip(-2))
    out = build(dict(type="RandomFlip", flip_prob=0.0))({"img": img})
    assert out["img"] is img and out["flip"] is False
    with pytest.raises(BuildError):
        build(dict(type="RandomFlip", flip_prob=2))


def test_pad():
    out = build(dict(type="Pad", size=(5, 6), pad_val=9))({"img": torch.zeros(3, 2, 3, dtype=torch.uint8)})
    assert out["img"].shape == (3, 5, 6) and out["img"][0, 4, 5] == 9 and out["img"][0, 0, 0] == 0
    out = build(dict(type="Pad", pad_to_square=True))({"img": torch.zeros(3, 2, 3, dtype=torch.uint8)})
    assert out["img"].shape == (3, 3, 3)
    with pytest.raises(BuildError, match="exactly one"):
        build(dict(type="Pad"))


# -- photometric -------------------------------------------------------------------------------


def test_color_jitter_and_grayscale():
    results = _img(20, 30)
    out = build(dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4))(dict(results))
    assert out["img"].shape == (3, 20, 30) and out["img"].dtype == torch.uint8
    gray = build(dict(type="RandomGrayscale", gray_prob=1.0))(dict(results))["img"]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    with pytest.raises(BuildError):
        build(dict(type="ColorJitter", brightness=-1))


def test_color_jitter_hue_is_a_minim_extension_after_mmcls_ops():
    results = _img(20, 30)
    torch.manual_seed(0)
    plain = build(dict(type="ColorJitter"))(dict(results))["img"]
    assert torch.equal(plain, results["img"])  # no jitter asked: mmcls's ops with magnitude 0
    shifted = build(dict(type="ColorJitter", hue=0.5))(dict(results))["img"]
    assert not torch.equal(shifted, results["img"])
    with pytest.raises(BuildError, match="hue"):
        build(dict(type="ColorJitter", hue=0.6))


EIGVAL = [0.2175, 0.0188, 0.0045]  # mmcls's RegNet configs (from pycls), RGB order
EIGVEC = [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]]


def lighting_shift(seed: int, alphastd: float) -> torch.Tensor:
    torch.manual_seed(seed)
    alpha = torch.randn(3, dtype=torch.float64) * alphastd
    return torch.tensor([sum(EIGVEC[i][j] * alpha[j] * EIGVAL[j] for j in range(3)) for i in range(3)])


def test_lighting_adds_the_pca_shift_in_mmcls_channel_order(tmp_path):
    path, array = gradient_image(tmp_path)
    rgb = torch.from_numpy(array).permute(2, 0, 1).float()
    shift = lighting_shift(3, 25.5).float().view(3, 1, 1)
    torch.manual_seed(3)
    out = build(dict(type="Lighting", eigval=EIGVAL, eigvec=EIGVEC, alphastd=25.5, to_rgb=True))(load(path))
    assert out["img"].dtype == torch.float64 and torch.allclose(out["img"].float(), rgb + shift, atol=1e-4)
    assert out["mmcls_order"] == "rgb"
    # mmcls's RegNet pipeline then normalises with to_rgb=True: BGR out, as the pycls weights expect
    normalized = build(dict(type="Normalize", mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True))(out)
    assert normalized["img"].dtype == torch.float32
    assert torch.allclose(normalized["img"], (rgb + shift).flip(0), atol=1e-4)
    # without to_rgb the rows of eigvec are in mmcls's BGR order: the shift lands reversed on RGB
    torch.manual_seed(3)
    out = build(dict(type="Lighting", eigval=EIGVAL, eigvec=EIGVEC, alphastd=25.5, to_rgb=False))(load(path))
    assert torch.allclose(out["img"].float(), rgb + shift.flip(0), atol=1e-4) and out["mmcls_order"] == "bgr"


def test_lighting_rejects_bad_arguments():
    with pytest.raises(BuildError, match="eigvec of 3 rows"):
        build(dict(type="Lighting", eigval=EIGVAL, eigvec=EIGVEC[:2]))
    with pytest.raises(BuildError, match="alphastd must be >= 0"):
        build(dict(type="Lighting", eigval=EIGVAL, eigvec=EIGVEC, alphastd=-1))


def test_random_erasing_const_fill_in_mmcls_order_without_touching_the_input():
    img = torch.zeros(3, 10, 10, dtype=torch.uint8)
    results = {"img": img, "channel_order": "rgb", "mmcls_order": "bgr"}
    cfg = dict(type="RandomErasing", erase_prob=1.0, min_area_ratio=0.3, max_area_ratio=0.3, fill_color=(1, 2, 3))
    out = build(cfg)(results)["img"]
    erased = out.sum(0) > 0
    assert erased.any() and torch.all(img == 0)
    assert out[:, erased][:, 0].tolist() == [3, 2, 1]
    rand = build(dict(cfg, mode="rand", fill_std=(10, 10, 10)))({"img": img.clone()})["img"]
    assert rand.dtype == torch.uint8
    with pytest.raises(BuildError, match="mode"):
        build(dict(type="RandomErasing", mode="noise"))


def test_auto_and_rand_augment_run_mmcls_policies_without_warnings():
    """Pixel parity with mmcls is in test_cls_auto_augment.py; here: configs' forms build quietly and run."""
    results = {**_img(32, 32), "channel_order": "rgb", "mmcls_order": "bgr"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = build(dict(type="AutoAugment", policies="imagenet"))
        rand = build(dict(type="RandAugment", policies=[dict(type="Rotate", magnitude_key="angle",
                                                             magnitude_range=(0, 30))],
                          num_policies=2, magnitude_level=9, total_level=10, magnitude_std=0.5,
                          hparams=dict(pad_val=[104, 116, 124], interpolation="bicubic")))
    assert len(auto.policies) == 25 and auto(dict(results))["img"].shape == (3, 32, 32)
    assert rand.policies[0]["pad_val"] == [104, 116, 124] and rand.policies[0]["interpolation"] == "bicubic"
    assert rand(dict(results))["img"].dtype == torch.uint8
    with pytest.raises(BuildError, match="magnitude_level"):
        build(dict(type="RandAugment", policies=[dict(type="Invert")], num_policies=2, magnitude_level=-1))


# -- formatting --------------------------------------------------------------------------------


def test_to_tensor_image_to_tensor_and_collect():
    results = {"img": np.zeros((4, 5, 3), dtype=np.uint8), "gt_label": np.int64(3), "filename": "f", "flip": False}
    results = build(dict(type="ImageToTensor", keys=["img"]))(results)
    assert results["img"].shape == (3, 4, 5) and results["img"].dtype == torch.float32
    results = build(dict(type="ToTensor", keys=["gt_label"]))(results)
    assert results["gt_label"].dtype == torch.int64 and results["gt_label"].shape == () and int(results["gt_label"]) == 3
    out = build(dict(type="Collect", keys=["img", "gt_label"]))(results)
    assert set(out) == {"img", "gt_label", "img_metas"} and out["img_metas"] == {"filename": "f", "flip": False}
    with pytest.raises(DataError, match="no key 'gt_label'"):
        build(dict(type="Collect", keys=["gt_label"]))({"img": 1})


def test_unknown_transform_suggests_the_name():
    with pytest.raises(BuildError, match="did you mean 'RandomFlip'"):
        Compose([dict(type="RandomFlp")])
    with pytest.raises(BuildError, match="unexpected argument 'prob'"):
        Compose([dict(type="RandomFlip", prob=0.5)])
    with pytest.raises(BuildError) as error:
        Compose([dict(type="RandomFlip", tpye="x")])
    assert error.value.hint == "did you mean 'type'?"


def test_compose_cacheable_prefix_and_standard_train_pipeline(tmp_path):
    path, _ = gradient_image(tmp_path, width=50, height=40)
    pipeline = Compose([
        dict(type="LoadImageFromFile"),
        dict(type="RandomResizedCrop", size=24),
        dict(type="RandomFlip", flip_prob=0.5, direction="horizontal"),
        dict(type="Normalize", **NORM_RGB),
        dict(type="ImageToTensor", keys=["img"]),
        dict(type="ToTensor", keys=["gt_label"]),
        dict(type="Collect", keys=["img", "gt_label"]),
    ])
    assert pipeline.num_cacheable == 1
    assert Compose([dict(type="LoadImageFromFile"), dict(type="Resize", size=8), dict(type="CenterCrop", crop_size=4)]).num_cacheable == 3
    out = pipeline({"img_prefix": str(tmp_path), "img_info": {"filename": path.name}, "gt_label": np.int64(1)})
    assert out["img"].shape == (3, 24, 24) and out["img"].dtype == torch.float32 and int(out["gt_label"]) == 1
    assert Compose([lambda r: None, dict(type="RandomFlip")])({}) is None
