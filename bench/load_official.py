#!/usr/bin/python3
"""Time the official Python loader of a StyleGAN2-ADA network pickle on the CPU.

Modes (each: 1 warm-up run, then N timed runs; reports median/min/max seconds):
  legacy  : legacy.load_network_pkl(f)['G_ema']   (official loader: unpickles G, D, G_ema, checks them)
  pickle  : pickle.load(f)['G_ema']               (plain unpickling, official code importable)
  read    : f.read() of the whole file in Python  (page-cache read speed, for reference)
--cache cold drops the page cache (sync; echo 3 > /proc/sys/vm/drop_caches, root only) before each
timed run; --cache both reports warm and cold.

The official code is taken from bench/third_party/stylegan2-ada-pytorch (git-ignored; see
bench/_official.py). Imports (torch, legacy, training.networks) happen once, before timing; the first
unpickle also execs the pickled module source, which is why a warm-up run is excluded.

Usage:
    /usr/bin/python3 bench/load_official.py [PKL] [-n 5] [--modes legacy,pickle] [--cache warm|cold|both]
        [--json OUT.json]
"""

import argparse
import gc
import json
import os
import pickle
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402

DEFAULT_PKL = os.path.join(_official.BENCH_DIR, 'work', 'ffhq-configf-1024-random.pkl')


def run_legacy(path):
    import legacy
    with open(path, 'rb') as f:
        return legacy.load_network_pkl(f)['G_ema']


def run_pickle(path):
    with open(path, 'rb') as f:
        return pickle.load(f)['G_ema']


def run_read(path):
    with open(path, 'rb') as f:
        return len(f.read())


MODES = {'legacy': run_legacy, 'pickle': run_pickle, 'read': run_read}


def can_drop_caches():
    try:
        os.sync()
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('3\n')
        return True
    except OSError:
        return False


def time_mode(fn, path, n, cold=False):
    r = fn(path)  # warm-up (execs the pickled module source once, fills the page cache)
    del r
    gc.collect()
    times = []
    for _ in range(n):
        if cold and not can_drop_caches():
            raise RuntimeError('cannot write /proc/sys/vm/drop_caches')
        t0 = time.perf_counter()
        r = fn(path)
        t1 = time.perf_counter()
        times.append(t1 - t0)
        del r
        gc.collect()
    return dict(n=n, median_s=statistics.median(times), min_s=min(times), max_s=max(times), runs_s=times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('pkl', nargs='?', default=DEFAULT_PKL)
    ap.add_argument('-n', type=int, default=5, help='timed runs per mode after 1 warm-up (default 5)')
    ap.add_argument('--modes', default='legacy,pickle', help='comma list of: ' + ','.join(MODES))
    ap.add_argument('--cache', default='warm', choices=['warm', 'cold', 'both'],
                    help='warm: file in page cache (default); cold: sync + drop_caches before each timed run '
                         '(needs root); both')
    ap.add_argument('--json', default=None, help='also write the results as JSON here')
    args = ap.parse_args()

    if not os.path.exists(args.pkl):
        sys.exit(f'{args.pkl}: not found (make it with /usr/bin/python3 bench/make_network_pkl.py)')
    _official.add_official_to_path()

    t0 = time.perf_counter()
    import torch
    import legacy  # noqa: F401
    from training import networks  # noqa: F401
    t_import = time.perf_counter() - t0

    # Sanity check on the object the loader returns.
    G = run_legacy(args.pkl)
    info = dict(class_name=type(G).__name__, img_resolution=G.img_resolution, z_dim=G.z_dim,
                num_params=sum(p.numel() for p in G.parameters()))
    del G

    res = dict(pkl=os.path.abspath(args.pkl), size_bytes=os.path.getsize(args.pkl),
               python=sys.version.split()[0], torch=torch.__version__,
               torch_threads=torch.get_num_threads(), official_commit=_official.official_commit(),
               import_s=t_import, G_ema=info, modes={})
    caches = ['warm', 'cold'] if args.cache == 'both' else [args.cache]
    if 'cold' in caches and not can_drop_caches():
        print('note: cannot drop the page cache (needs root and a writable /proc/sys/vm/drop_caches); '
              'timing warm cache only', file=sys.stderr)
        caches = ['warm']
    for m in [x.strip() for x in args.modes.split(',') if x.strip()]:
        if m not in MODES:
            sys.exit(f'unknown mode {m!r}')
        for cache in caches:
            r = time_mode(MODES[m], args.pkl, args.n, cold=(cache == 'cold'))
            r['cache'] = cache
            r['MB_per_s'] = res['size_bytes'] / r['median_s'] / 1e6
            res['modes'][m if cache == 'warm' else m + '_cold'] = r
            print(f'{m:7s} {cache} n={r["n"]} median {r["median_s"]:.3f} s  min {r["min_s"]:.3f}  '
                  f'max {r["max_s"]:.3f}  ({r["MB_per_s"]:.0f} MB/s of pickle)', flush=True)
    print(f'imports (torch, legacy, networks): {t_import:.2f} s (not included above); '
          f'G_ema: {info["class_name"]} {info["img_resolution"]}px, {info["num_params"]:,} params')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()
