"""``CIFAR10`` / ``CIFAR100`` from the standard python-pickle release already on disk (never downloaded).

``data_prefix`` holds ``cifar-10-batches-py/`` (``cifar-100-python/``) or the untouched
``cifar-10-python.tar.gz`` (``cifar-100-python.tar.gz``), which is read without extracting it.
``test_mode`` picks the test batch. Pickles are read with an unpickler that only rebuilds numpy
arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from contextlib import ExitStack
from typing import Any, Callable, Sequence

import numpy as np
import torch

from minim.errors import DataError
from minim.cls.datasets.base import BaseDataset
from minim.cls.datasets.paths import require_dir
from minim.cls.datasets.registry import DATASETS

_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_pickle(data: bytes, where: str) -> dict:
    """A CIFAR batch dict (keys decoded to str) from pickle bytes."""
    try:
        loaded = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(f"cannot read CIFAR batch {where}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise DataError(f"cannot read CIFAR batch {where}: not a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in loaded.items()}


class _CIFAR(BaseDataset):
    base_folder = ""
    archive_name = ""
    train_files: Sequence[str] = ()
    test_files: Sequence[str] = ()
    meta_file = ""
    meta_key = ""
    label_key = ""
    url = ""

    def __init__(
        self,
        data_prefix: str,
        pipeline: Sequence[Any] = (),
        classes: Any = None,
        ann_file: str | None = None,
        test_mode: bool = False,
        file_client_args: dict | None = None,
        cache_images: bool | str = False,
    ):
        if ann_file is not None:
            raise DataError(f"{type(self).__name__} does not take ann_file (got {ann_file!r})")
        self._classes_arg = classes
        super().__init__(data_prefix, pipeline, None, None, test_mode, cache_images)

    def _reader(self, stack: ExitStack) -> tuple[Callable[[str], bytes], str]:
        require_dir(self.data_prefix, "data_prefix")
        folder = os.path.join(self.data_prefix, self.base_folder)
        archive = os.path.join(self.data_prefix, self.archive_name)
        if os.path.isdir(folder):
            def read(name: str) -> bytes:
                path = os.path.join(folder, name)
                if not os.path.isfile(path):
                    raise DataError(f"{type(self).__name__}: {path} is missing (incomplete {self.base_folder}/ folder)")
                with open(path, "rb") as handle:
                    return handle.read()
            return read, folder
        if os.path.isfile(archive):
            try:
                tar = stack.enter_context(tarfile.open(archive, "r:gz"))
                members = {m.name: m for m in tar.getmembers() if m.isfile()}
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise DataError(f"cannot read {archive}: {exc}") from exc

            def read_member(name: str) -> bytes:
                member = members.get(f"{self.base_folder}/{name}")
                if member is None:
                    raise DataError(f"{archive} has no {self.base_folder}/{name}")
                return tar.extractfile(member).read()
            return read_member, archive
        raise DataError(
            f"{type(self).__name__} data not found: expected {folder}/ or {archive}",
            hint=f"download {self.url} into data_prefix yourself; minim never downloads datasets",
        )

    def load_annotations(self) -> list[dict]:
        with ExitStack() as stack:
            read, source = self._reader(stack)
            return self._load_batches(read, source)

    def _load_batches(self, read: Callable[[str], bytes], source: str) -> list[dict]:
        datas, labels = [], []
        for name in self.test_files if self.test_mode else self.train_files:
            batch = load_pickle(read(name), f"{source}: {name}")
            if "data" not in batch or self.label_key not in batch:
                raise DataError(f"CIFAR batch {source}: {name} lacks 'data' or {self.label_key!r}")
            data = np.asarray(batch["data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(batch[self.label_key]) != len(data):
                raise DataError(f"CIFAR batch {source}: {name} has unexpected shape {data.shape}")
            datas.append(data)
            labels.extend(int(label) for label in batch[self.label_key])
        self.CLASSES = self._classes_from(read, source)
        images = torch.from_numpy(np.concatenate(datas).reshape(-1, 3, 32, 32))
        if labels and not 0 <= min(labels) <= max(labels) < len(self.CLASSES):
            raise DataError(f"CIFAR labels in {source} are outside [0, {len(self.CLASSES)})")
        return [{"img": img, "gt_label": np.int64(label)} for img, label in zip(images, labels)]

    def _classes_from(self, read: Callable[[str], bytes], source: str) -> list[str] | tuple[str, ...]:
        names = list(self.CLASSES or ())
        try:
            meta = load_pickle(read(self.meta_file), f"{source}: {self.meta_file}")
            names = [str(n) for n in meta[self.meta_key]]
        except (DataError, KeyError):
            pass
        if self._classes_arg is not None:
            given = self.get_classes(self._classes_arg)
            if len(given) != len(names):
                raise DataError(f"classes has {len(given)} names but {type(self).__name__} has {len(names)} classes")
            names = given
        return names

    def raw_results(self, idx: int) -> dict:
        info = self.data_infos[idx]
        shape = (32, 32, 3)
        return {
            "img": info["img"],
            "gt_label": info["gt_label"],
            "filename": None,
            "ori_filename": f"{idx:05d}.png",
            "img_shape": shape,
            "ori_shape": shape,
            "channel_order": "rgb",
            "mmcls_order": "rgb",
        }

    def sample_source(self, idx: int) -> str:
        return f"{type(self).__name__} {'test' if self.test_mode else 'train'} sample {idx}"


@DATASETS.register()
class CIFAR10(_CIFAR):
    """CIFAR-10 (50,000 train / 10,000 test RGB 32x32 images, 10 classes)."""

    base_folder = "cifar-10-batches-py"
    archive_name = "cifar-10-python.tar.gz"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    meta_key = "label_names"
    label_key = "labels"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@DATASETS.register()
class CIFAR100(_CIFAR):
    """CIFAR-100 (fine labels, 100 classes)."""

    base_folder = "cifar-100-python"
    archive_name = "cifar-100-python.tar.gz"
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"
    meta_key = "fine_label_names"
    label_key = "fine_labels"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    CLASSES = list(
        "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel "
        "can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur "
        "dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion "
        "lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree "
        "pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea "
        "seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table "
        "tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman "
        "worm".split()
    )
