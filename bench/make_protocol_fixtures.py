#!/usr/bin/python3
"""Regenerate tests/fixtures/stylegan2/protocols/tiny-p{2,3,5}.pkl.

Loads tests/fixtures/stylegan2/tiny/network-snapshot.pkl (pickle protocol 4) with the official
stylegan2-ada-pytorch code (bench/third_party, git-ignored) and re-saves the whole snapshot dict
unchanged with pickle.dump(data, f, protocol=P) for P = 2, 3, 5 (default pickler, no out-of-band
buffers). The fixture's placeholder module_src is kept (see _official.alias_placeholder_sources), so
the outputs contain no official source code; this is asserted.

Each output is then re-loaded and compared with the original: every module's parameters and buffers
(bit-exact, same dtype/shape/stride), every other attribute (_init_kwargs, gains, ...), the
training_set_kwargs and augment_pipe. The storage keys inside the torch blobs are pointer values of
the writing process, so the files are not byte-reproducible; their content is.

Usage: /usr/bin/python3 bench/make_protocol_fixtures.py [--check-only]
"""

import argparse
import io
import os
import pickle
import pickletools
import sys

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402

FIX = os.path.join(_official.REPO_DIR, 'tests', 'fixtures', 'stylegan2')
SRC = os.path.join(FIX, 'tiny', 'network-snapshot.pkl')
OUT_DIR = os.path.join(FIX, 'protocols')
PROTOCOLS = (2, 3, 5)
PLACEHOLDER_MARK = 'The source code of the network module is not included in this fixture.'


def load(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


def same(a, b, where, errors):
    """Deep comparison of unpickled snapshot contents (tensors bit-exact)."""
    import numpy as np
    import torch
    if isinstance(a, torch.nn.Module) or isinstance(b, torch.nn.Module):
        if type(a).__name__ != type(b).__name__:
            errors.append(f'{where}: class {type(a).__name__} vs {type(b).__name__}')
            return
        keys = set(a.__dict__) | set(b.__dict__)
        for k in sorted(keys):
            if k not in a.__dict__ or k not in b.__dict__:
                errors.append(f'{where}.{k}: missing on one side')
                continue
            same(a.__dict__[k], b.__dict__[k], f'{where}.{k}', errors)
        return
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor):
            errors.append(f'{where}: tensor vs {type(b).__name__}')
        elif type(a) is not type(b) or a.dtype != b.dtype or a.shape != b.shape or a.stride() != b.stride() \
                or a.requires_grad != b.requires_grad or a.device != b.device:
            errors.append(f'{where}: tensor meta differs')
        elif not torch.equal(a.view(-1).view(torch.int32) if a.dtype == torch.float32 else a,
                             b.view(-1).view(torch.int32) if b.dtype == torch.float32 else b):
            errors.append(f'{where}: tensor values differ')
        return
    if type(a) is not type(b):
        errors.append(f'{where}: type {type(a).__name__} vs {type(b).__name__}')
        return
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()):
            errors.append(f'{where}: dict keys/order differ')
            return
        for k in a:
            same(a[k], b[k], f'{where}[{k!r}]', errors)
        return
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            errors.append(f'{where}: length differs')
            return
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f'{where}[{i}]', errors)
        return
    if isinstance(a, np.generic):
        if a.dtype != b.dtype or a.tobytes() != b.tobytes():
            errors.append(f'{where}: numpy scalar differs')
        return
    if a != b:
        errors.append(f'{where}: {a!r} vs {b!r}')


def describe(path):
    data = open(path, 'rb').read()
    proto = data[1] if data[:1] == b'\x80' else 0
    ops = sorted({op.name for op, _, _ in pickletools.genops(data)})
    return proto, len(data), ops, data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--check-only', action='store_true', help='only verify existing outputs')
    args = ap.parse_args()

    _official.alias_placeholder_sources()
    import torch  # noqa: F401
    orig = load(SRC)
    os.makedirs(OUT_DIR, exist_ok=True)
    p0, n0, ops0, _ = describe(SRC)
    print(f'source {os.path.relpath(SRC, _official.REPO_DIR)}: protocol {p0}, {n0:,} bytes, keys {list(orig)}')

    # Sanity check of the re-save path itself: protocol 4 again must give the same opcode set and size
    # up to the storage-key digits.
    buf = io.BytesIO()
    pickle.dump(orig, buf, protocol=4)
    ops4 = sorted({op.name for op, _, _ in pickletools.genops(buf.getvalue())})
    print(f'  re-dump at protocol 4: {len(buf.getvalue()):,} bytes (original {n0:,}), '
          f'opcodes {"same" if ops4 == ops0 else "DIFFER: " + str(set(ops4) ^ set(ops0))}')

    ok = True
    for p in PROTOCOLS:
        out = os.path.join(OUT_DIR, f'tiny-p{p}.pkl')
        if not args.check_only:
            tmp = out + '.tmp.' + str(os.getpid())
            with open(tmp, 'wb') as f:
                pickle.dump(orig, f, protocol=p)
            os.replace(tmp, out)
        proto, size, ops, raw = describe(out)
        errors = []
        if proto != p:
            errors.append(f'header says protocol {proto}')
        if PLACEHOLDER_MARK.encode() not in raw:
            errors.append('placeholder module_src not found')
        for needle in (b'class SynthesisLayer', b'NVIDIA', b'def modulated_conv2d'):
            if needle in raw:
                errors.append(f'official source text {needle!r} found in output')
        back = load(out)
        same(orig, back, 'snapshot', errors)
        g0, g1 = orig['G_ema'].state_dict(), back['G_ema'].state_dict()
        n_equal = sum(torch.equal(g0[k], g1[k]) for k in g0) if list(g0) == list(g1) else -1
        status = 'OK' if not errors else 'FAIL'
        ok &= not errors
        print(f'{status} {os.path.relpath(out, _official.REPO_DIR)}: protocol {proto}, {size:,} bytes, '
              f'G_ema state_dict {n_equal}/{len(g0)} tensors equal; opcodes +{sorted(set(ops) - set(ops0))} '
              f'-{sorted(set(ops0) - set(ops))}')
        for e in errors[:20]:
            print('   ', e)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
