#!/usr/bin/env python3
"""The official identity networks and a PyTorch SimGAN on the CPU, for bench/run_identity_bench.sh.

The official code is never part of this repository. It is expected, unmodified, in git-ignored
folders: AlfredXiangWu/LightCNN's light_cnn.py in bench/third_party/LightCNN ($FACESYNTH_LIGHTCNN)
and omertov/encoder4editing in bench/third_party/encoder4editing ($FACESYNTH_E4E; only
models/encoders/model_irse.py and helpers.py are imported). SimGAN has no official code:
SimGANRef below is a benchmark-only PyTorch transcription of docs/simgan.md (plain nn.Conv2d,
F.relu, F.max_pool2d), not part of the engine.

--make-arcface PATH: Backbone(112, 50, 'ir_se') at full width with torch's default initialisation
  from torch.manual_seed(seed); every BatchNorm's running statistics calibrated on one batch of 4
  random faces (train mode, momentum 1, so activations stay O(1) as in a trained network); saved
  with torch.save(state_dict) (zip), as pSp's model_ir_se50.pth is a plain state dict.
--make-x PATH --net NET: N inputs from numpy.random.RandomState(seed): Light CNN [N, 1, 128, 128]
  uniform in [0, 1]; ArcFace [N, 3, 112, 112] and SimGAN [N, 3, S, S] uniform in [-1, 1].
--time CKPT --net NET: load as the official loaders do (Light CNN: the training checkpoint's
  state_dict with 'module.' stripped, map_location cpu; ArcFace: strict load_state_dict), eval mode,
  torch.no_grad(), torch.set_num_threads(T); W warm-ups then R timed calls of the forward the engine
  mirrors on the first B inputs (Light CNN: model(x), its feature; ArcFace: Backbone(x), the
  normalised embedding; SimGAN: the refiner). Prints one JSON line; --save-out writes the last
  output as .npy.

Usage: PYTHON bench/official_identity_cpu.py --make-arcface bench/work/arcface_full.pt
       PYTHON bench/official_identity_cpu.py --make-x X.npy --net lightcnn|arcface|simgan [--n N] [--side S]
       PYTHON bench/official_identity_cpu.py --time CKPT --net NET --x X.npy [--batch B] [--reps R]
           [--warmup W] [--threads T] [--save-out O.npy]
"""

import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True
BENCH = os.path.dirname(os.path.abspath(__file__))
LCNN_DIR = os.environ.get('FACESYNTH_LIGHTCNN', os.path.join(BENCH, 'third_party', 'LightCNN'))
E4E_DIR = os.environ.get('FACESYNTH_E4E', os.path.join(BENCH, 'third_party', 'encoder4editing'))


def lightcnn_module():
    if not os.path.isfile(os.path.join(LCNN_DIR, 'light_cnn.py')):
        sys.exit('official light_cnn.py not found in %s: fetch AlfredXiangWu/LightCNN there '
                 '(git-ignored), or set $FACESYNTH_LIGHTCNN' % LCNN_DIR)
    sys.path.insert(0, LCNN_DIR)
    import light_cnn
    return light_cnn


def arcface_module():
    if not os.path.isfile(os.path.join(E4E_DIR, 'models', 'encoders', 'model_irse.py')):
        sys.exit('official e4e code not found in %s: fetch omertov/encoder4editing there '
                 '(git-ignored), or set $FACESYNTH_E4E' % E4E_DIR)
    sys.path.insert(0, E4E_DIR)
    from models.encoders import model_irse
    return model_irse


def simgan_ref():
    import torch
    import torch.nn.functional as F

    class SimGANRef(torch.nn.Module):
        """docs/simgan.md's refiner, transcribed for the benchmark."""

        def __init__(self, c, f, b):
            super().__init__()
            self.conv_in = torch.nn.Conv2d(c, f, 3, padding=1)
            self.blocks = torch.nn.ModuleList()
            for _ in range(b):
                blk = torch.nn.Module()
                blk.conv1 = torch.nn.Conv2d(f, f, 3, padding=1)
                blk.conv2 = torch.nn.Conv2d(f, f, 3, padding=1)
                self.blocks.append(blk)
            self.conv_out = torch.nn.Conv2d(f, c, 1)

        def forward(self, x):
            h = F.relu(self.conv_in(x))
            for blk in self.blocks:
                h = F.relu(h + blk.conv2(F.relu(blk.conv1(h))))
            return torch.tanh(self.conv_out(h))

    return SimGANRef


def load(net, ckpt):
    import torch
    if net == 'lightcnn':
        lc = lightcnn_module()
        sd = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
        sd = {k[7:] if k.startswith('module.') else k: v for k, v in sd.items()}
        model = lc.LightCNN_9Layers(num_classes=sd['fc2.weight'].shape[0])
        model.load_state_dict(sd, strict=True)
        return model, lambda x: model(x)[1]
    if net == 'arcface':
        model = arcface_module().Backbone(112, 50, 'ir_se', drop_ratio=0.6)
        model.load_state_dict(torch.load(ckpt, map_location='cpu'), strict=True)
        return model, model
    sd = torch.load(ckpt, map_location='cpu')
    w = sd['refiner.conv_in.weight']
    nb = len([k for k in sd if k.startswith('refiner.blocks.') and k.endswith('conv1.weight')])
    model = simgan_ref()(w.shape[1], w.shape[0], nb)
    model.load_state_dict({k[8:]: v for k, v in sd.items() if k.startswith('refiner.')},
                          strict=True)
    return model, model


def make_arcface(args):
    import torch
    torch.manual_seed(args.seed)
    model = arcface_module().Backbone(112, 50, 'ir_se', drop_ratio=0.6)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 3, 112, 112) * 2 - 1)
    model.eval()
    torch.save(model.state_dict(), args.make_arcface)
    print(json.dumps({'made': args.make_arcface,
                      'params': sum(v.numel() for v in model.state_dict().values())}))


def make_x(args):
    import numpy as np
    rs = np.random.RandomState(args.seed)
    if args.net == 'lightcnn':
        x = rs.uniform(0, 1, (args.n, 1, 128, 128))
    elif args.net == 'arcface':
        x = rs.uniform(-1, 1, (args.n, 3, 112, 112))
    else:
        x = rs.uniform(-1, 1, (args.n, 3, args.side, args.side))
    np.save(args.make_x, x.astype(np.float32))


def time_it(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, fwd = load(args.net, args.time)
    model.eval()
    load_s = time.perf_counter() - t0
    x = torch.from_numpy(np.load(args.x)[:args.batch].copy())

    def run():
        with torch.no_grad():
            return fwd(x)

    for _ in range(args.warmup):
        run()
    sec = []
    c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(args.reps):
        t = time.perf_counter()
        out = run()
        sec.append(time.perf_counter() - t)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) / (time.perf_counter() - w0)
    if args.save_out:
        np.save(args.save_out, out.numpy().astype(np.float32))
    sec.sort()
    med = sec[len(sec) // 2] if len(sec) % 2 else 0.5 * (sec[len(sec) // 2 - 1] + sec[len(sec) // 2])
    print(json.dumps({'net': args.net, 'batch': args.batch, 'reps': args.reps,
                      'threads': args.threads, 'median_s': med, 'min_s': sec[0],
                      'faces_per_s': args.batch / med, 'cpu_per_wall': cpu, 'load_s': load_s,
                      'torch': torch.__version__,
                      'cpu_capability': torch.backends.cpu.get_cpu_capability()}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--make-arcface')
    p.add_argument('--make-x')
    p.add_argument('--time')
    p.add_argument('--net', choices=['lightcnn', 'arcface', 'simgan'])
    p.add_argument('--x')
    p.add_argument('--n', type=int, default=16)
    p.add_argument('--side', type=int, default=64)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--save-out')
    args = p.parse_args()
    if args.make_arcface:
        make_arcface(args)
    elif args.make_x:
        make_x(args)
    elif args.time:
        time_it(args)
    else:
        p.error('one of --make-arcface, --make-x, --time')


if __name__ == '__main__':
    main()
