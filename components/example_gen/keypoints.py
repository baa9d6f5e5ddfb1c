"""An object's keypoints, from COCO's flat [x, y, v] * K in pixels to the OD API's per-object feature values.

The OD API's `create_coco_tf_record.py` writes, for every object of a dataset with keypoints, K values each of
`image/object/keypoint/x` and `/y` (divided by the image width / height), `/visibility` (COCO's v: 0 not
labelled, 1 labelled but hidden, 2 visible), `/text` (the keypoint names) and one `/num` (labelled keypoints),
zeros for an object without keypoints; its decoder reshapes them to [objects, K]. Here the same, and what
cannot be used is written as not labelled and said (records.BAD_KEYPOINTS: a list of the wrong length, a
value that is not a finite number, a visibility other than 0/1/2, keypoints on a category that declares no
keypoint names; KEYPOINT_OUTSIDE_IMAGE: a labelled keypoint outside the image; NUM_KEYPOINTS_MISMATCH: an
annotated num_keypoints other than the labelled keypoints counted, which is what is written).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

from components.example_gen import records as R
from components.example_gen.readers.values import short, to_float


@dataclasses.dataclass
class ObjectKeypoints:
    """One object's K keypoints, normalised to the image, and what was said about them."""

    x: list
    y: list
    visibility: list
    notes: list            # (reason, detail)

    @property
    def num(self) -> int:
        """The labelled keypoints (visibility > 0)."""
        return sum(1 for v in self.visibility if v > 0)


def unlabelled(k: int, notes: Optional[list] = None) -> ObjectKeypoints:
    """K keypoints none of which is labelled (what an object without keypoints gets)."""
    return ObjectKeypoints([0.0] * k, [0.0] * k, [0] * k, list(notes or []))


def _values(raw, k: int) -> tuple[Optional[list], Optional[str]]:
    """COCO's flat list as (x, y, v) triples, or what is wrong with it."""
    if not isinstance(raw, (list, tuple)):
        return None, f"keypoints {short(raw)} is not a list"
    if len(raw) != 3 * k:
        return None, f"keypoints has {len(raw)} values, expected 3 x {k} (x, y, visibility per keypoint)"
    numbers = [to_float(v) for v in raw]
    bad = [i for i, n in enumerate(numbers) if n is None or not math.isfinite(n)]
    if bad:
        return None, f"keypoints[{bad[0]}] {short(raw[bad[0]])} is not a finite number"
    triples = [tuple(numbers[i:i + 3]) for i in range(0, 3 * k, 3)]
    odd = [i for i, (_, _, v) in enumerate(triples) if v not in (0.0, 1.0, 2.0)]
    if odd:
        return None, f"keypoint {odd[0]} has visibility {triples[odd[0]][2]:g}, expected 0, 1 or 2"
    return triples, None


def object_keypoints(obj: R.ObjectRecord, names: Sequence[str], frame_w: int, frame_h: int) -> ObjectKeypoints:
    """The keypoints of a kept object in a dataset whose keypoint names are `names` (see the module doc)."""
    k = len(names)
    if obj.keypoints is None:
        return unlabelled(k)
    if not obj.has_keypoint_names:
        return unlabelled(k, [(R.BAD_KEYPOINTS, "keypoints on a category that declares no keypoint names")])
    triples, wrong = _values(obj.keypoints, k)
    if wrong:
        return unlabelled(k, [(R.BAD_KEYPOINTS, wrong)])
    out = unlabelled(k)
    outside = []
    for i, (x, y, v) in enumerate(triples):
        if v and not (0 <= x <= frame_w and 0 <= y <= frame_h):
            outside.append(f"{names[i]} at {x:g},{y:g}")
            continue
        if v:
            out.x[i], out.y[i], out.visibility[i] = x / frame_w, y / frame_h, int(v)
    if outside:
        out.notes.append((R.KEYPOINT_OUTSIDE_IMAGE, f"{', '.join(outside)} outside the {frame_w}x{frame_h} "
                                                    "image, written as not labelled"))
    annotated = to_float(obj.num_keypoints) if obj.num_keypoints is not None else None
    labelled = sum(1 for _, _, v in triples if v)
    if annotated is not None and annotated != labelled:
        out.notes.append((R.NUM_KEYPOINTS_MISMATCH, f"num_keypoints {annotated:g}, but {labelled} keypoints are "
                                                    "labelled"))
    return out
