#!/usr/bin/env python3
"""Face boxes for bench/run_landmarks_bench.sh: the 14 fixture cases of
tests/fixtures/landmarks, then N random boxes on its images (sizes from 8 px to
1.5 times the image, centres anywhere within a quarter box of the image, so
some reach past it). Writes CASES (one "PNG L T R B" per line) and, with a
third argument, the same boxes as a boxes.json for `facesynth landmarks`.
Standard library only; the same SEED gives the same boxes.

    python3 bench/make_landmark_cases.py N CASES [BOXES_JSON] [SEED]
"""
import json
import os
import random
import struct
import sys

FIX = "tests/fixtures/landmarks"


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def main():
    n, cases = int(sys.argv[1]), sys.argv[2]
    boxes_json = sys.argv[3] if len(sys.argv) > 3 else None
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    with open(os.path.join(FIX, "boxes.json")) as f:
        entries = [(e["image"], e["box"]) for e in json.load(f)]
    names = sorted(x for x in os.listdir(FIX) if x.endswith(".png"))
    for _ in range(n):
        name = rng.choice(names)
        w, h = png_size(os.path.join(FIX, name))
        s = rng.uniform(8, 1.5 * min(w, h))
        bw, bh = s, s * rng.uniform(0.9, 1.1)
        cx = rng.uniform(-0.25 * bw, w + 0.25 * bw)
        cy = rng.uniform(-0.25 * bh, h + 0.25 * bh)
        left, top = round(cx - bw / 2), round(cy - bh / 2)
        entries.append((name, [left, top, left + max(1, round(bw)) - 1, top + max(1, round(bh)) - 1]))
    with open(cases, "w") as f:
        for name, b in entries:
            f.write("%s/%s %d %d %d %d\n" % (FIX, name, *b))
    if boxes_json:
        with open(boxes_json, "w") as f:
            json.dump([{"image": name, "box": b} for name, b in entries], f)


if __name__ == "__main__":
    main()
