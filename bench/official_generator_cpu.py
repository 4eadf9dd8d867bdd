#!/usr/bin/python3
"""Time the official stylegan2-ada-pytorch generator on the CPU (float32), for the comparison with
build/bench/bench_generator_cpu (bench/run_cpu_generator_bench.sh runs both).

The network pickle is loaded with the official legacy.load_network_pkl(f)['G_ema'] (the official code from
the git-ignored bench/third_party/stylegan2-ada-pytorch, see bench/_official.py), put in eval() mode on the
CPU in float32, and run as
    G(z, c, truncation_psi=PSI, noise_mode='const', force_fp32=True)
under torch.no_grad() with torch.set_num_threads(T): W warm-up batches, then R timed ones
(time.perf_counter()), median/min/max seconds per batch. G.mapping is also timed alone (W + R calls).

Notes on what runs:
* On the CPU the official custom ops (bias_act, upfirdn2d, conv2d_gradfix) never load their CUDA plugins:
  each checks x.device.type == 'cuda' and otherwise runs its reference implementation built from plain
  torch ops (bias_act._bias_act_ref; upfirdn2d._upfirdn2d_ref = pad + depthwise F.conv2d; conv2d_gradfix
  falls back to F.conv2d / F.conv_transpose2d). The script records which implementation was used.
* fp16: ADA's SynthesisBlock.forward picks float16 for the num_fp16_res highest-resolution blocks whenever
  use_fp16 and not force_fp32 - it does not look at the device. A config-f pickle has num_fp16_res 4, so on
  the CPU the default call runs those blocks in half precision and fails in torch 1.13
  ('"slow_conv_transpose2d_out_cpu" not implemented for 'Half''). force_fp32=True (a synthesis kwarg
  the official G.forward passes down to every block) keeps every block in float32, which is also what the
  facesynth CPU backend computes. The script checks the dtype of the output and of every conv weight.
* With float32 and eval(), fused_modconv is True in every block (networks.py:386), i.e. the official
  grouped-convolution path (groups = batch size).
* z for sample i is np.random.RandomState(seed + i).randn(z_dim), as in generate.py; bench_generator_cpu
  draws the same z, so --dump lets the runner compare the two outputs.

Usage:
    /usr/bin/python3 bench/official_generator_cpu.py --network PKL [--batch 1] [--reps 5] [--warmup 1]
        [--threads 2] [--psi 1] [--seed 0] [--dump OUT.f32] [--label TEXT] [--profile]
The last line of stdout is one JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402


def stats(v):
    return {'median_s': statistics.median(v), 'min_s': min(v), 'max_s': max(v),
            'mean_s': statistics.fmean(v), 'all_s': list(v)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--network', required=True)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--psi', type=float, default=1.0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--dump', default=None, help='write the last output batch as raw little-endian float32 NCHW')
    ap.add_argument('--label', default='')
    ap.add_argument('--profile', action='store_true',
                    help='after the timed runs, one extra batch under torch.profiler: time per torch op (stderr)')
    args = ap.parse_args()

    _official.add_official_to_path()
    t0 = time.perf_counter()
    import numpy as np
    import torch
    import legacy
    from torch_utils.ops import bias_act, upfirdn2d
    t_import = time.perf_counter() - t0

    torch.set_num_threads(args.threads)
    dev = torch.device('cpu')
    t0 = time.perf_counter()
    with open(args.network, 'rb') as f:
        G = legacy.load_network_pkl(f)['G_ema']
    G = G.eval().requires_grad_(False).to(dev)
    t_load = time.perf_counter() - t0

    blocks = [getattr(G.synthesis, f'b{r}') for r in G.synthesis.block_resolutions]
    fp16_blocks = [b.resolution for b in blocks if b.use_fp16]
    weight_dtypes = sorted({str(p.dtype) for p in G.parameters()} | {str(b.dtype) for b in G.buffers()})
    c = torch.zeros([args.batch, G.c_dim], device=dev)
    z = torch.from_numpy(np.stack([np.random.RandomState(args.seed + i).randn(G.z_dim)
                                   for i in range(args.batch)])).to(dev).float()
    kw = dict(noise_mode='const', force_fp32=True)

    sys.stderr.write(f'[official_generator_cpu] {args.network}: {G.img_resolution}x{G.img_resolution}, '
                     f'batch {args.batch}, {args.warmup} warm-up + {args.reps} timed, torch {torch.__version__} '
                     f'with {torch.get_num_threads()} threads; load {t_load:.2f} s; blocks built with use_fp16: '
                     f'{fp16_blocks} (forced to fp32)\n')

    tm, tg, tcpu = [], [], []
    img = None
    with torch.no_grad():
        for i in range(args.warmup + args.reps):
            c0 = time.process_time()
            t0 = time.perf_counter()
            img = G(z, c, truncation_psi=args.psi, **kw)
            dt = time.perf_counter() - t0
            dc = time.process_time() - c0
            if i >= args.warmup:
                tg.append(dt)
                tcpu.append(dc)
            sys.stderr.write(f'[official_generator_cpu]   G {"warm-up" if i < args.warmup else "rep"} '
                             f'{i + 1 if i < args.warmup else i - args.warmup + 1}: {dt:.3f} s (CPU {dc:.3f} s)\n')
        # mapping and synthesis apart (information; G above is the compared figure)
        for i in range(args.warmup + args.reps):
            t0 = time.perf_counter()
            ws = G.mapping(z, c, truncation_psi=args.psi)
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                tm.append(dt)
        prof_rows = None
        if args.profile:
            from torch.profiler import profile, ProfilerActivity
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                G(z, c, truncation_psi=args.psi, **kw)
            table = prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=25)
            sys.stderr.write(table + '\n')
            tot = sum(e.self_cpu_time_total for e in prof.key_averages())
            prof_rows = [{'op': e.key, 'self_cpu_s': e.self_cpu_time_total * 1e-6, 'calls': e.count,
                          'share': e.self_cpu_time_total / tot if tot else None}
                         for e in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:15]]

    x = img.double()
    out = {
        'label': args.label, 'impl': 'official-stylegan2-ada-pytorch', 'network': args.network,
        'resolution': G.img_resolution,
        'channel_base': getattr(G, 'init_kwargs', {}).get('synthesis_kwargs', {}).get('channel_base'),
        'batch': args.batch, 'warmup': args.warmup, 'reps': args.reps,
        'threads': torch.get_num_threads(), 'psi': args.psi, 'seed': args.seed, 'noise': 'const',
        'call': f"G(z, c, truncation_psi={args.psi}, noise_mode='const', force_fp32=True) under torch.no_grad()",
        'torch': torch.__version__, 'python': sys.version.split()[0], 'numpy': np.__version__,
        'mkldnn': torch.backends.mkldnn.is_available(), 'official_commit': _official.official_commit(),
        'torch_blas': next((kv.split('=', 1)[1] for kv in torch.__config__.show().replace(',', ' ').split()
                            if kv.startswith('BLAS_INFO=')), None),
        'import_s': t_import, 'load_s': t_load,
        'blocks_with_use_fp16': fp16_blocks, 'param_dtypes': weight_dtypes, 'output_dtype': str(img.dtype),
        'custom_ops': {'bias_act_plugin_loaded': bias_act._inited and bias_act._plugin is not None,
                       'upfirdn2d_plugin_loaded': upfirdn2d._inited and upfirdn2d._plugin is not None,
                       'used': 'reference implementations (CPU tensors never take the CUDA path)'},
        'generator': stats(tg), 'mapping': stats(tm),
        'generator_cpu_s': tcpu, 'cpu_per_wall': sum(tcpu) / sum(tg),
        'synthesis_median_s_estimate': statistics.median(tg) - statistics.median(tm),
        'img_per_s': args.batch / statistics.median(tg),
        'output_mean': float(x.mean()), 'output_rms': float(x.pow(2).mean().sqrt()),
        'output_finite': bool(torch.isfinite(img).all()),
        'profile_top_ops': prof_rows,
    }
    if args.dump:
        img.contiguous().numpy().astype('<f4').tofile(args.dump)
    g = out['generator']
    print(f"network    {args.network}")
    print(f"run        batch {args.batch}, {args.warmup} warm-up + {args.reps} timed, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, psi {args.psi}, noise const, force_fp32=True (blocks built with "
          f"use_fp16: {fp16_blocks}); custom ops: reference implementations")
    print(f"load       {t_load:.3f} s (legacy.load_network_pkl; not in the timings)")
    print(f"G          median {g['median_s']:.4f} s/batch (min {g['min_s']:.4f}, max {g['max_s']:.4f}), "
          f"{out['img_per_s']:.4f} img/s")
    print(f"mapping    median {out['mapping']['median_s']:.6f} s/batch (G.mapping alone; the synthesis is the rest)")
    print(f"cpu        {out['cpu_per_wall']:.2f} CPU-s per wall-s during the timed runs (process_time, all threads)")
    print(f"output     {out['output_dtype']}, mean {out['output_mean']:.6f}, rms {out['output_rms']:.6f}")
    print(json.dumps(out))


if __name__ == '__main__':
    main()
