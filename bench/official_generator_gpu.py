#!/usr/bin/env python3
"""Time the official stylegan2-ada-pytorch generator on a CUDA GPU, for the end-to-end comparison
in bench/run_on_gpu.sh.

The network pickle is loaded with the official legacy.load_network_pkl(f)['G_ema'] (the official code
comes from the git-ignored bench/third_party/stylegan2-ada-pytorch, see bench/_official.py; carry it to
the GPU machine), moved to the GPU in eval() mode and run as G(z, c, truncation_psi=1,
noise_mode='const') under torch.no_grad(), exactly as the official generate script calls it: the
config's num_fp16_res top blocks in fp16 (the official default), or everything in fp32 with --fp32.
Each batch is timed with CUDA events after W warm-up batches; the median of R batches is reported.
Its custom CUDA ops (bias_act, upfirdn2d) are compiled on first use; the warm-up absorbs that.

Usage: bench/official_generator_gpu.py --network PKL --batch 32 [--reps 10] [--warmup 3] [--fp32]
The last line of stdout is one JSON object.
"""

import argparse
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--network', required=True)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--fp32', action='store_true', help='force_fp32=True in every block')
    args = ap.parse_args()

    _official.add_official_to_path()
    import torch
    import legacy  # official

    if not torch.cuda.is_available():
        sys.exit('official_generator_gpu.py: no CUDA device')
    dev = torch.device('cuda')
    with open(args.network, 'rb') as f:
        G = legacy.load_network_pkl(f)['G_ema'].eval().requires_grad_(False).to(dev)
    z = torch.randn([args.batch, G.z_dim], device=dev, generator=torch.Generator(dev).manual_seed(0))
    c = torch.zeros([args.batch, G.c_dim], device=dev)
    times = []
    with torch.no_grad():
        for i in range(args.warmup + args.reps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            G(z, c, truncation_psi=1, noise_mode='const', force_fp32=args.fp32)
            end.record()
            torch.cuda.synchronize()
            if i >= args.warmup:
                times.append(start.elapsed_time(end) / 1000.0)
    med = statistics.median(times)
    res = {'device': torch.cuda.get_device_name(0), 'network': args.network, 'batch': args.batch,
           'precision': 'fp32' if args.fp32 else 'official (fp16 top blocks)',
           'median_s': med, 'min_s': min(times), 'max_s': max(times), 'img_per_s': args.batch / med,
           'torch': torch.__version__}
    print(f"official {res['precision']}: batch {args.batch}: {med * 1000:.2f} ms, "
          f"{res['img_per_s']:.1f} img/s")
    print(json.dumps(res))


if __name__ == '__main__':
    main()
