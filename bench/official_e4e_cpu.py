#!/usr/bin/env python3
"""The official e4e encoder on the CPU: makes the random full-size checkpoint both sides load, and
times omertov/encoder4editing's Encoder4Editing on it (bench/run_e4e_bench.sh runs this).

The official code is never part of this repository: it is expected, unmodified, in the git-ignored
bench/third_party/encoder4editing (override with $FACESYNTH_E4E); only its models/ folder is needed.
Its models/stylegan2/model.py imports the CUDA extensions of models/stylegan2/op at import time (JIT
compiled with nvcc); the encoder never calls them (EqualLinear without an activation is plain
F.linear), so a stand-in module that names them is registered before the import.

--make PATH: build Encoder4Editing(50, 'ir_se') for a 1024x1024 generator (18 styles of 512) with
  torch's default initialisation from torch.manual_seed(seed), then calibrate every BatchNorm's
  running statistics on one batch of 4 random images (train mode, momentum 1: the statistics become
  that batch's, so activations stay O(1) as in a trained network), and save what the official coach
  saves: {'state_dict': {'encoder.*'}, 'opts': dict, 'latent_avg': [18, 512]} (one random row
  repeated), with torch.save. Also writes --x: [N, 3, 256, 256] uniform in [-1, 1] from
  numpy.random.RandomState(seed).
--time: load that checkpoint into a fresh Encoder4Editing as the official loader does (strict
  load_state_dict of the 'encoder.' keys), eval mode, torch.no_grad(), torch.set_num_threads(T),
  and time W warm-ups + R calls of `encoder(x) + latent_avg` (what pSp returns) on the first B images
  of --x, time.perf_counter(). Prints one JSON line; --save-codes writes the codes of the batch.
  --profile: one extra call under torch.profiler, the top ops by self CPU time.

Usage: bench/work/venv/bin/python bench/official_e4e_cpu.py --make bench/work/e4e_full.pt --x X.npy
       bench/work/venv/bin/python bench/official_e4e_cpu.py --time bench/work/e4e_full.pt --x X.npy
           [--batch B] [--reps R] [--warmup W] [--threads T] [--save-codes C.npy] [--profile]
"""

import argparse
import json
import os
import resource
import sys
import time
import types

sys.dont_write_bytecode = True
BENCH = os.path.dirname(os.path.abspath(__file__))
E4E_DIR = os.environ.get('FACESYNTH_E4E', os.path.join(BENCH, 'third_party', 'encoder4editing'))


def import_official():
    if not os.path.isfile(os.path.join(E4E_DIR, 'models', 'encoders', 'psp_encoders.py')):
        sys.exit('official e4e code not found in %s: fetch omertov/encoder4editing there '
                 '(git-ignored; never copied into tracked files), or set $FACESYNTH_E4E' % E4E_DIR)
    sys.path.insert(0, E4E_DIR)
    stub = types.ModuleType('models.stylegan2.op')
    for name in ('FusedLeakyReLU', 'fused_leaky_relu', 'upfirdn2d'):
        setattr(stub, name, None)  # the encoder never calls them
    sys.modules['models.stylegan2.op'] = stub
    from models.encoders import psp_encoders
    return psp_encoders


def opts_dict():
    # vars(opts) of an official training run, as the coach saves it (the fields the encoder reads)
    return {'encoder_type': 'Encoder4Editing', 'stylegan_size': 1024, 'start_from_latent_avg': True,
            'device': 'cuda:0', 'batch_size': 8, 'learning_rate': 0.0001, 'lpips_lambda': 0.8,
            'checkpoint_path': None, 'progressive_steps': [0, 20000, 22000]}


def build(psp_encoders):
    return psp_encoders.Encoder4Editing(50, 'ir_se', argparse.Namespace(**opts_dict()))


def make(args):
    import numpy as np
    import torch
    psp_encoders = import_official()
    torch.manual_seed(args.seed)
    enc = build(psp_encoders)
    for m in enc.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    enc.train()
    with torch.no_grad():
        enc(torch.rand(4, 3, 256, 256) * 2 - 1)
    enc.eval()
    latent_avg = (torch.randn(512) * 0.5).repeat(18, 1)
    state = {'encoder.' + k: v for k, v in enc.state_dict().items()}
    torch.save({'state_dict': state, 'opts': opts_dict(), 'latent_avg': latent_avg}, args.make)
    x = np.random.RandomState(args.seed).uniform(-1, 1, (args.n, 3, 256, 256)).astype(np.float32)
    np.save(args.x, x)
    print(json.dumps({'made': args.make, 'x': args.x, 'params': sum(v.numel() for v in state.values())}))


def time_it(args):
    import numpy as np
    import torch
    psp_encoders = import_official()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ckpt = torch.load(args.time, map_location='cpu', weights_only=False)
    enc = build(psp_encoders)
    enc.load_state_dict({k[8:]: v for k, v in ckpt['state_dict'].items() if k.startswith('encoder.')},
                        strict=True)
    enc.eval()
    latent_avg = ckpt['latent_avg']
    load_s = time.perf_counter() - t0
    x = torch.from_numpy(np.load(args.x)[:args.batch].copy())

    def run():
        with torch.no_grad():
            return enc(x) + latent_avg.repeat(x.shape[0], 1, 1)

    for _ in range(args.warmup):
        run()
    sec = []
    c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(args.reps):
        t = time.perf_counter()
        codes = run()
        sec.append(time.perf_counter() - t)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) / (time.perf_counter() - w0)
    if args.save_codes:
        np.save(args.save_codes, codes.numpy().astype(np.float32))
    sec.sort()
    med = sec[len(sec) // 2] if len(sec) % 2 else 0.5 * (sec[len(sec) // 2 - 1] + sec[len(sec) // 2])
    out = {'batch': args.batch, 'reps': args.reps, 'warmup': args.warmup, 'threads': args.threads,
           'median_s': med, 'min_s': sec[0], 'max_s': sec[-1], 'img_per_s': args.batch / med,
           'cpu_per_wall': cpu, 'load_s': load_s, 'torch': torch.__version__,
           'mkldnn': torch.backends.mkldnn.is_available(),
           'cpu_capability': torch.backends.cpu.get_cpu_capability()}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        ev = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in ev) or 1
        out['profile'] = [{'op': e.key, 'self_cpu_share': e.self_cpu_time_total / total, 'calls': e.count}
                          for e in ev[:6]]
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--make')
    p.add_argument('--time')
    p.add_argument('--x', required=True)
    p.add_argument('--n', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--save-codes')
    p.add_argument('--profile', action='store_true')
    args = p.parse_args()
    if bool(args.make) == bool(args.time):
        sys.exit('give one of --make PATH and --time PATH')
    make(args) if args.make else time_it(args)


if __name__ == '__main__':
    main()
