#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_dlib.c into tests/fuzz/corpus/dlib/.

Small shape predictor models in dlib's serialization (the encoder below
follows docs/landmarks.md), plus cut-downs of Debian's 68-point model when it
is installed: its header and initial shape with one real tree and a made-up
feature pool, and its first 2 KiB (a truncated forest). Standard library only.

    python3 tests/fuzz/make_dlib_corpus.py [MODEL]
"""
import math
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dlib")
MODEL = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def enc_int(v):
    """Control byte (bit 7 sign, low bits byte count), magnitude little-endian."""
    mag = -v if v < 0 else v
    b = mag.to_bytes(max(1, (mag.bit_length() + 7) // 8), "little")
    return bytes([(0x80 if v < 0 else 0) | len(b)]) + b


def enc_float(x):
    """dlib's float_details for a float32: 24-bit mantissa, zero low bytes shifted off."""
    if x == 0:
        m, e = 0, -24
    else:
        f, e2 = math.frexp(x)
        m, e = int(f * (1 << 24)), e2 - 24
    for _ in range(8):
        if m & 0xFF:
            break
        m >>= 8
        e += 8
    return enc_int(m) + enc_int(e)


def enc_column(vals, old=False):
    n = len(vals)
    head = enc_int(n) + enc_int(1) if old else enc_int(-n) + enc_int(-1)
    return head + b"".join(enc_float(v) for v in vals)


def model(parts, levels, trees, depth, feats, old_dims=False):
    """A complete model with deterministic values."""
    d = 2 * parts
    out = enc_int(1)
    init = [((i // 2) / max(1, parts - 1)) if i % 2 == 0 else 0.3 + 0.1 * (i % 5) for i in range(d)]
    out += enc_column(init, old_dims)
    out += enc_int(levels)
    ns = (1 << depth) - 1
    for l in range(levels):
        out += enc_int(trees)
        for t in range(trees):
            out += enc_int(ns)
            for s in range(ns):
                out += enc_int((s + t) % feats) + enc_int((3 * s + l + 1) % feats)
                out += enc_float(float((s * 13 + t) % 41 - 20))
            out += enc_int(ns + 1)
            for k in range(ns + 1):
                out += enc_column([((k - j) % 7 - 3) / 256.0 for j in range(d)], old_dims)
    out += enc_int(levels)
    for l in range(levels):
        out += enc_int(feats) + b"".join(enc_int((i * 5 + l) % parts) for i in range(feats))
    out += enc_int(levels)
    for l in range(levels):
        out += enc_int(feats)
        for i in range(feats):
            out += enc_float(((i % 9) - 4) / 16.0) + enc_float(((i % 5) - 2) / 8.0)
    return out


class Reader:
    def __init__(self, b, pos=0):
        self.b, self.pos = b, pos

    def int(self):
        c = self.b[self.pos]
        n = c & 0x0F
        v = int.from_bytes(self.b[self.pos + 1:self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -v if c & 0x80 else v

    def float(self):
        self.int()
        self.int()

    def column(self):
        nr = abs(self.int())
        self.int()
        for _ in range(nr):
            self.float()


def real_cutdowns(path):
    with open(path, "rb") as f:
        b = f.read()
    r = Reader(b)
    r.int()          # version
    r.column()       # initial shape
    head = b[:r.pos]
    r.int()          # levels
    r.int()          # trees of level 0
    t0 = r.pos
    ns = r.int()
    for _ in range(ns):
        r.int(), r.int(), r.float()
    nl = r.int()
    for _ in range(nl):
        r.column()
    tree = b[t0:r.pos]
    feats = 500      # the real tree's split indices go up to 499
    one = head + enc_int(1) + enc_int(1) + tree
    one += enc_int(1) + enc_int(feats) + b"".join(enc_int(i % 68) for i in range(feats))
    one += enc_int(1) + enc_int(feats)
    one += b"".join(enc_float(((i % 11) - 5) / 64.0) + enc_float(((i % 7) - 3) / 64.0)
                    for i in range(feats))
    return {"real68_one_tree.dat": one, "real68_first_2k.dat": b[:2048]}


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "tiny_p2_l1_t1_d1.dat": model(2, 1, 1, 1, 2),
        "tiny_p3_l2_t2_d2.dat": model(3, 2, 2, 2, 4),
        "tiny_p5_l3_t3_d3_old_dims.dat": model(5, 3, 3, 3, 6, old_dims=True),
        "tiny_p1_l1_t1_d0.dat": model(1, 1, 1, 0, 1),
        "empty_forest.dat": enc_int(1) + enc_column([0.5, 0.5]) + enc_int(0) + enc_int(0) + enc_int(0),
    }
    if os.path.exists(MODEL):
        seeds.update(real_cutdowns(MODEL))
    else:
        print("make_dlib_corpus: %s absent: the real-model seeds are not written" % MODEL)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print("%-32s %6d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
