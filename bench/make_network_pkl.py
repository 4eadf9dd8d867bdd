#!/usr/bin/python3
"""Write a random-weight StyleGAN2 network pickle exactly as a stylegan2-ada-pytorch training snapshot.

The networks are built with the official classes (training.networks.Generator / Discriminator from
bench/third_party/stylegan2-ada-pytorch, never copied here) using the kwargs that the official train.py
produces for `--cfg=stylegan2` (config-f): z_dim = w_dim = 512, 8 mapping layers, channel_base 32768,
channel_max 512, num_fp16_res 4, conv_clamp 256, mbstd group 4. The snapshot is written like
training/training_loop.py does it: a dict training_set_kwargs, G, D, G_ema, augment_pipe, each module
deep-copied, .eval().requires_grad_(False).cpu(), then pickle.dump(snapshot_data, f).

G_ema starts as a deep copy of G (as in training) and then gets a small seeded perturbation so that
G and G_ema differ, as they do in any real snapshot (lets a converter's --net choice be checked).
Weights are random; only the file structure and size matter (about 360 MB at 1024).

Usage (use /usr/bin/python3, which has torch):
    /usr/bin/python3 bench/make_network_pkl.py [-o bench/work/ffhq-configf-1024-random.pkl]
        [--resolution 1024] [--seed 0] [--protocol N] [--c-dim 0] [--channel-base 32768]
"""

import argparse
import copy
import os
import pickle
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402


def build_snapshot(resolution, seed, c_dim=0, channel_base=32768):
    _official.add_official_to_path()
    import torch
    import dnnlib
    from training import networks  # noqa: F401  (import checks the official code is usable)

    torch.manual_seed(seed)

    # Same construction as train.py (cfg 'stylegan2') + training_loop.py.
    G_kwargs = dnnlib.EasyDict(class_name='training.networks.Generator', z_dim=512, w_dim=512,
                               mapping_kwargs=dnnlib.EasyDict(), synthesis_kwargs=dnnlib.EasyDict())
    D_kwargs = dnnlib.EasyDict(class_name='training.networks.Discriminator', block_kwargs=dnnlib.EasyDict(),
                               mapping_kwargs=dnnlib.EasyDict(), epilogue_kwargs=dnnlib.EasyDict())
    G_kwargs.synthesis_kwargs.channel_base = D_kwargs.channel_base = channel_base
    G_kwargs.synthesis_kwargs.channel_max = D_kwargs.channel_max = 512
    G_kwargs.mapping_kwargs.num_layers = 8
    G_kwargs.synthesis_kwargs.num_fp16_res = D_kwargs.num_fp16_res = 4
    G_kwargs.synthesis_kwargs.conv_clamp = D_kwargs.conv_clamp = 256
    D_kwargs.epilogue_kwargs.mbstd_group_size = 4

    training_set_kwargs = dnnlib.EasyDict(class_name='training.dataset.ImageFolderDataset',
                                          path=f'datasets/ffhq-{resolution}x{resolution}.zip',
                                          use_labels=c_dim > 0, max_size=70000, xflip=True,
                                          resolution=resolution)

    common_kwargs = dict(c_dim=c_dim, img_resolution=resolution, img_channels=3)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common_kwargs).train().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common_kwargs).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()

    # Make G_ema differ from G (deterministically), like after some EMA steps.
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in G_ema.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.01)
        G_ema.mapping.w_avg.copy_(torch.randn(G_ema.mapping.w_avg.shape, generator=gen))

    snapshot_data = dict(training_set_kwargs=dict(training_set_kwargs))
    for name, module in [('G', G), ('D', D), ('G_ema', G_ema), ('augment_pipe', None)]:
        if module is not None:
            module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
        snapshot_data[name] = module
        del module
    return snapshot_data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('-o', '--output', default=None,
                    help='output path (default bench/work/ffhq-configf-<res>-random.pkl)')
    ap.add_argument('--resolution', type=int, default=1024, choices=[256, 512, 1024])
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--protocol', type=int, default=None,
                    help=f'pickle protocol (default: Python default, {pickle.DEFAULT_PROTOCOL} here)')
    ap.add_argument('--c-dim', type=int, default=0, help='label dimension (0 = unconditional, default)')
    ap.add_argument('--channel-base', type=int, default=32768,
                    help='channel_base (32768 = config-f / cfg stylegan2, default; 16384 = cfg paper256)')
    args = ap.parse_args()

    cfg = 'configf' if args.channel_base == 32768 else f'cbase{args.channel_base}'
    out = args.output or os.path.join(_official.BENCH_DIR, 'work', f'ffhq-{cfg}-{args.resolution}-random.pkl')
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)

    t0 = time.time()
    snapshot_data = build_snapshot(args.resolution, args.seed, args.c_dim, args.channel_base)
    t1 = time.time()
    tmp = out + '.tmp.' + str(os.getpid())
    with open(tmp, 'wb') as f:
        if args.protocol is None:
            pickle.dump(snapshot_data, f)          # exactly what training_loop.py does
        else:
            pickle.dump(snapshot_data, f, protocol=args.protocol)
    os.replace(tmp, out)
    t2 = time.time()

    import torch  # noqa: F401
    nparams = {k: sum(p.numel() for p in snapshot_data[k].parameters()) for k in ('G', 'D', 'G_ema')}
    nbuf = {k: sum(b.numel() for b in snapshot_data[k].buffers()) for k in ('G', 'D', 'G_ema')}
    proto = args.protocol if args.protocol is not None else pickle.DEFAULT_PROTOCOL
    print(f'wrote {out}: {os.path.getsize(out):,} bytes, protocol {proto}, resolution {args.resolution}, '
          f'seed {args.seed}, c_dim {args.c_dim}, channel_base {args.channel_base}')
    print(f'parameters {nparams}, buffers {nbuf}')
    print(f'build {t1 - t0:.1f} s, pickle.dump {t2 - t1:.1f} s')


if __name__ == '__main__':
    main()
