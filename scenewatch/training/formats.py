"""Dataset record layouts and box conventions, one per trainer.

Every exported line is one JSON object (one clip, one question)::

    {"id", "video", "videos", "conversations": [{"from": "human", "value": "<video>\\n…"},
     {"from": "gpt", "value": "…"}], "timestamps": [[start, end]], "width", "height",
     "clip_start", "format", "type", "label", "source_id", "regions": [{"time", "box", "label"}],
     "observation_ids"}

Times (``timestamps``, ``regions[].time`` and times written in turns) are seconds from the clip's
first frame; ``clip_start`` is where that frame sits in the source. ``video`` is relative to the JSONL
file's folder. ``regions`` always hold absolute frame pixels (they feed region-token training); only
the box written into the answer text follows the format:

``sharegpt`` (LLaMA-Factory ``formatting: sharegpt``, the default)
    ``<box_2d>[x1, y1, x2, y2]</box_2d>``, integer pixels of the original frame (Qwen2.5-VL grounds in
    absolute pixels; a trainer that resizes frames must scale boxes by the same factors). ``videos`` holds
    the clip for LLaMA-Factory's ``videos`` column; ``dataset_info.json`` is written beside the file.
``qwen-vl`` (QwenLM/Qwen2.5-VL ``qwen-vl-finetune`` data)
    ``{"bbox_2d": [x1, y1, x2, y2], "label": "…"}``, integer absolute pixels, the JSON Qwen2.5-VL emits
    when it grounds.
``llava`` (LLaVA / LLaVA-NeXT-Video conversations)
    ``[x1, y1, x2, y2]`` normalised to 0–1 by frame width/height, three decimals, as LLaVA's referring data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

DatasetFormat = Literal["sharegpt", "qwen-vl", "llava"]
FORMATS: tuple[str, ...] = get_args(DatasetFormat)
Box = tuple[float, float, float, float]

BOX_OPEN, BOX_CLOSE = "<box_2d>", "</box_2d>"
VIDEO_TAG = "<video>"

_NUM = r"-?\d+(?:\.\d+)?"
_LIST = rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]"
_BOX_PATTERNS: dict[str, re.Pattern[str]] = {
    "sharegpt": re.compile(rf"<box_2d>\s*{_LIST}\s*</box_2d>"),
    "qwen-vl": re.compile(rf'"bbox_2d"\s*:\s*{_LIST}'),
    "llava": re.compile(_LIST),
}


def render_box(box: Box, fmt: DatasetFormat, width: int, height: int, label: str = "") -> str:
    """The box as the format writes it inside an answer."""
    x1, y1, x2, y2 = (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
    if fmt == "llava":
        return "[" + ", ".join(f"{v:.3f}" for v in (x1 / width, y1 / height, x2 / width, y2 / height)) + "]"
    ints = [round(v) for v in (x1, y1, x2, y2)]
    if fmt == "qwen-vl":
        return json.dumps({"bbox_2d": ints, "label": label}, ensure_ascii=False)
    return f"{BOX_OPEN}[{', '.join(str(v) for v in ints)}]{BOX_CLOSE}"


def parse_boxes(text: str, fmt: str, width: int, height: int) -> list[Box]:
    """Boxes written in a turn, converted back to frame pixels."""
    pattern = _BOX_PATTERNS.get(fmt)
    if pattern is None:
        return []
    boxes = []
    for m in pattern.finditer(text):
        x1, y1, x2, y2 = (float(g) for g in m.groups())
        if fmt == "llava":
            x1, x2, y1, y2 = x1 * width, x2 * width, y1 * height, y2 * height
        boxes.append((x1, y1, x2, y2))
    return boxes


def llama_factory_info(file_name: str, name: str = "scenewatch") -> dict[str, Any]:
    """The ``dataset_info.json`` entry that tells LLaMA-Factory how to read an exported ShareGPT file."""
    return {name: {
        "file_name": file_name, "formatting": "sharegpt",
        "columns": {"messages": "conversations", "videos": "videos"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
    }}


def turns(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(from, value)`` of each turn of a record."""
    return [(str(t.get("from", "")), str(t.get("value", ""))) for t in record.get("conversations", [])]
