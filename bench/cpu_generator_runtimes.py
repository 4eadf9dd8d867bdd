"""The CPU generator against the best CPU runtimes, in one interleaved run (issue 9).

Runs in the benchmark-only virtual environment that bench/run_cpu_generator_bench.sh makes under
bench/venv (torch, onnx, onnxruntime, openvino from PyPI; never needed to build or test facesynth).
The official generator is loaded with the official code (legacy.load_network_pkl(f)['G_ema'] from the
git-ignored bench/third_party/stylegan2-ada-pytorch, located by bench/_official.py).

Subcommands:
  export  --network PKL --batch N --out FILE.onnx [--psi 1]
          The official G(z, c, truncation_psi, noise_mode='const', force_fp32=True), float32, as one
          ONNX graph with a static batch (the official fused modconv is a grouped conv with
          groups = batch, so the batch is part of the graph). Opset 17, TorchScript exporter.
  worker  --runtime facesynth|ort|ov|torch ...
          Loads one runtime, then answers "run K" / "dump FILE" / "quit" on stdin, one JSON line per
          command (the protocol of bench_generator_cpu --serve), so that a driver can interleave
          runtimes that stay loaded and warm.
  drive   --rows JSON --out-json FILE ...
          For every row (network, batch): starts the four workers (facesynth's bench_generator_cpu
          --serve, ONNX Runtime, OpenVINO, the official PyTorch), warms each up, checks that every
          output agrees with the official PyTorch output (relative L2), then runs ROUNDS rounds, each
          runtime BATCHES_PER_ROUND timed batches per round, the order rotated every round; records
          wall and CPU seconds of every batch. Writes one JSON document.

z for sample i is numpy's RandomState(seed + i).randn(512), as generate.py and bench_generator_cpu
draw it, so every runtime gets the same input.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402


def log(msg):
    sys.stderr.write(f'[cpu_generator_runtimes] {msg}\n')
    sys.stderr.flush()


def cpu_s():
    """User + system CPU seconds of this process and all its threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_z(batch, seed, z_dim=512):
    import numpy as np
    return np.stack([np.random.RandomState(seed + i).randn(z_dim) for i in range(batch)]).astype('float32')


def load_official(pkl):
    _official.add_official_to_path()
    import torch
    import legacy
    with open(pkl, 'rb') as f:
        G = legacy.load_network_pkl(f)['G_ema']
    return G.eval().requires_grad_(False).to(torch.device('cpu')).float()


class Wrapped:
    """z -> image with the official call, as an nn.Module for torch.onnx.export."""

    @staticmethod
    def build(G, psi):
        import torch

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.G = G

            def forward(self, z):
                c = torch.zeros([z.shape[0], self.G.c_dim], dtype=z.dtype)
                return self.G(z, c, truncation_psi=psi, noise_mode='const', force_fp32=True)

        return M().eval()


def cmd_export(a):
    import torch
    G = load_official(a.network)
    m = Wrapped.build(G, a.psi)
    z = torch.from_numpy(make_z(a.batch, a.seed, G.z_dim))
    t0 = time.perf_counter()
    with torch.no_grad():
        ref = m(z)
        kw = dict(input_names=['z'], output_names=['img'], opset_version=a.opset)
        # torch.export (the dynamo exporter): the TorchScript exporter cannot export the official
        # fused modconv (its grouped conv's weight comes out of a reshape of traced shape values).
        prog = torch.onnx.export(m, (z,), dynamo=True, optimize=True, external_data=False, **kw)
        prog.save(a.out)
        exporter = 'dynamo'
    dt = time.perf_counter() - t0
    import onnx
    model = onnx.load(a.out, load_external_data=False)
    ops = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    out = {'onnx': a.out, 'exporter': exporter, 'opset': [o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')], 'torch': torch.__version__,
           'export_s': dt, 'bytes': os.path.getsize(a.out), 'ops': ops,
           'official_commit': _official.official_commit()}
    print(json.dumps(out))


# ---------------------------------------------------------------- workers

class Runtime:
    name = '?'

    def info(self):
        return {}


class TorchRT(Runtime):
    name = 'torch'

    def __init__(self, a):
        import torch
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
        self.torch = torch
        G = load_official(a.network)
        self.m = Wrapped.build(G, a.psi)
        self.z = torch.from_numpy(make_z(a.batch, a.seed, G.z_dim))
        self.out = None

    def run(self):
        with self.torch.inference_mode():
            self.out = self.m(self.z)

    def output(self):
        return self.out.numpy()

    def info(self):
        t = self.torch
        return {'torch': t.__version__, 'threads': t.get_num_threads(), 'mkldnn': t.backends.mkldnn.is_available(),
                'cpu_capability': t.backends.cpu.get_cpu_capability(),
                'call': "G(z, c, truncation_psi=psi, noise_mode='const', force_fp32=True) under torch.inference_mode()"}


class OrtRT(Runtime):
    name = 'ort'

    def __init__(self, a):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.ort = ort
        self.s = ort.InferenceSession(a.onnx, so, providers=['CPUExecutionProvider'])
        self.z = make_z(a.batch, a.seed)
        self.out = None

    def run(self):
        self.out = self.s.run(None, {'z': self.z})[0]

    def output(self):
        return self.out

    def info(self):
        return {'onnxruntime': self.ort.__version__, 'providers': self.s.get_providers(),
                'intra_op_num_threads': 2, 'graph_optimization_level': 'ORT_ENABLE_ALL'}


class OvRT(Runtime):
    name = 'ov'

    def __init__(self, a):
        import openvino as ov
        self.ov = ov
        core = ov.Core()
        self.model = core.read_model(a.onnx)
        self.z = make_z(a.batch, a.seed)
        self.hints = {}
        best = None
        # Its best performance hint: both compiled, each timed on a few calls; the faster is kept.
        for hint in ('LATENCY', 'THROUGHPUT'):
            cfg = {'PERFORMANCE_HINT': hint, 'INFERENCE_NUM_THREADS': a.threads,
                   'INFERENCE_PRECISION_HINT': 'f32'}
            cm = core.compile_model(self.model, 'CPU', cfg)
            req = cm.create_infer_request()
            req.infer({0: self.z})
            ts = []
            for _ in range(max(1, a.hint_trials)):
                t0 = time.perf_counter()
                req.infer({0: self.z})
                ts.append(time.perf_counter() - t0)
            self.hints[hint] = {'median_s': statistics.median(ts),
                                'inference_precision': str(cm.get_property('INFERENCE_PRECISION_HINT')),
                                'num_streams': str(cm.get_property('NUM_STREAMS')),
                                'inference_num_threads': int(cm.get_property('INFERENCE_NUM_THREADS'))}
            if best is None or statistics.median(ts) < best[0]:
                best = (statistics.median(ts), hint, cm, req)
        _, self.hint, self.cm, self.req = best
        self.out = None

    def run(self):
        self.out = self.req.infer({0: self.z})[0]

    def output(self):
        return self.out

    def info(self):
        return {'openvino': self.ov.__version__, 'hint': self.hint, 'hints_tried': self.hints,
                'device': 'CPU'}


def cmd_worker(a):
    rt = {'torch': TorchRT, 'ort': OrtRT, 'ov': OvRT}[a.runtime](a)
    print(json.dumps({'ready': True, 'info': rt.info()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line.startswith('run '):
            k = int(line.split()[1])
            walls, cpus = [], []
            for _ in range(k):
                c0 = cpu_s()
                t0 = time.perf_counter()
                rt.run()
                walls.append(time.perf_counter() - t0)
                cpus.append(cpu_s() - c0)
            print(json.dumps({'wall_s': walls, 'cpu_s': cpus}), flush=True)
        elif line.startswith('dump '):
            import numpy as np
            np.ascontiguousarray(rt.output(), dtype='<f4').tofile(line[5:])
            print(json.dumps({'dumped': True}), flush=True)
        elif line == 'quit':
            break
        else:
            print(json.dumps({'error': 'unknown command'}), flush=True)


# ---------------------------------------------------------------- driver

class Worker:
    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                  env=env)
        self.ready = self.read()

    def read(self):
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError(f'{self.name}: worker exited ({" ".join(self.argv)})')
            line = line.strip()
            if line.startswith('{'):
                return json.loads(line)

    def cmd(self, c):
        self.p.stdin.write(c + '\n')
        self.p.stdin.flush()
        return self.read()

    def close(self):
        try:
            self.p.stdin.write('quit\n')
            self.p.stdin.flush()
            self.p.wait(timeout=60)
        except Exception:
            self.p.kill()


def rel_l2(a, b):
    import numpy as np
    a = a.astype('float64').ravel()
    b = b.astype('float64').ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def cmd_drive(a):
    import numpy as np
    rows = json.loads(a.rows)
    here = os.path.abspath(__file__)
    py = sys.executable
    doc = {'rows': [], 'settings': {'threads': a.threads, 'warmup': a.warmup, 'rounds': a.rounds,
                                    'batches_per_round': a.batches_per_round, 'seed': a.seed, 'psi': a.psi}}
    for row in rows:
        log(f"row {row['label']}: {row['pkl']} batch {row['batch']}")
        common = ['--batch', str(row['batch']), '--threads', str(a.threads), '--seed', str(a.seed),
                  '--psi', str(a.psi)]
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
        workers = {}
        t_load = {}
        order = a.runtimes.split(',')
        for name in order:
            t0 = time.perf_counter()
            if name in ('facesynth', 'facesynth_base'):
                argv = [a.facesynth_bin if name == 'facesynth' else a.base_bin, '--network', row['fsw'],
                        '--batch', str(row['batch']), '--threads', str(a.threads), '--psi', str(a.psi),
                        '--seed', str(a.seed), '--serve']
            else:
                argv = [py, here, 'worker', '--runtime', name, '--network', row['pkl'], '--onnx', row['onnx'],
                        '--hint-trials', str(a.hint_trials)] + common
            workers[name] = Worker(name, argv, env)
            t_load[name] = time.perf_counter() - t0
            log(f'  {name}: loaded in {t_load[name]:.1f} s')
        rec = {'label': row['label'], 'config': row.get('config'), 'network': row['pkl'], 'fsw': row['fsw'],
               'onnx': row['onnx'], 'batch': row['batch'], 'load_s': t_load,
               'info': {n: w.ready.get('info', w.ready) for n, w in workers.items()},
               'loadavg_start': open('/proc/loadavg').read().split()[:3]}
        # warm-up, then the agreement check on the warm-up outputs
        for name in order:
            w = workers[name].cmd(f'run {a.warmup}')
            log(f"  {name}: warm-up {['%.3f' % x for x in w['wall_s']]}")
        outs = {}
        for name in order:
            path = os.path.join(a.tmp, f'{name}.f32')
            workers[name].cmd(f'dump {path}')
            outs[name] = np.fromfile(path, dtype='<f4')
        ref = 'torch' if 'torch' in outs else order[0]
        rec['agreement_reference'] = ref
        rec['rel_l2_vs_torch'] = {n: rel_l2(outs[n], outs[ref]) for n in order if n != ref}
        log(f"  agreement (relative L2 vs the official PyTorch): {rec['rel_l2_vs_torch']}")
        times = {n: {'wall_s': [], 'cpu_s': [], 'round': []} for n in order}
        for r in range(a.rounds):
            k = r % len(order)
            rot = order[k:] + order[:k]
            for name in rot:
                time.sleep(a.pause)  # let the previous runtime's spinning threads go idle
                res = workers[name].cmd(f'run {a.batches_per_round}')
                times[name]['wall_s'] += res['wall_s']
                times[name]['cpu_s'] += res['cpu_s']
                times[name]['round'] += [r] * len(res['wall_s'])
            log(f'  round {r + 1}/{a.rounds}: ' + ', '.join(
                f"{n} {statistics.median(times[n]['wall_s']):.3f}" for n in order))
        for w in workers.values():
            w.close()
        rec['times'] = times
        rec['median_s'] = {n: statistics.median(times[n]['wall_s']) for n in order}
        rec['cpu_per_wall'] = {n: sum(times[n]['cpu_s']) / sum(times[n]['wall_s']) for n in order}
        rec['loadavg_end'] = open('/proc/loadavg').read().split()[:3]
        doc['rows'].append(rec)
        with open(a.out_json, 'w') as f:
            json.dump(doc, f, indent=1)
    with open(a.out_json, 'w') as f:
        json.dump(doc, f, indent=1)


# ---------------------------------------------------------------- report

NAMES = {'facesynth': 'facesynth', 'facesynth_base': 'facesynth (base)', 'ort': 'ONNX Runtime',
         'ov': 'OpenVINO', 'torch': 'PyTorch (official)'}


def perf_top(path, n=12):
    rows = []
    if not path or not os.path.exists(path):
        return rows
    import re
    for line in open(path):
        m = re.match(r'\s*([0-9.]+)%\s+\[(.)\]\s+(\S+)', line)
        if m:
            rows.append({'share': float(m.group(1)) / 100, 'space': 'kernel' if m.group(2) == 'k' else 'user',
                         'symbol': m.group(3)})
    return rows[:n]


def cmd_report(a):
    doc = json.load(open(a.drive_json))
    env = json.load(open(a.env_json))
    peaks = [json.loads(l) for l in open(a.peaks) if l.strip().startswith('{')]
    peak = max(max(p.get('avx2_gflops', 0), p.get('avx512_gflops', 0)) for p in peaks) if peaks else None
    profiles = json.loads(a.profiles) if a.profiles else []
    for p in profiles:
        p['top'] = perf_top(p.get('report'))
    rows = []
    for r in doc['rows']:
        fs_info = r['info'].get('facesynth', {})
        gflop = fs_info.get('gflop_per_img_effective')
        out = {'label': r['label'], 'config': r.get('config'), 'batch': r['batch'], 'gflop_per_img': gflop,
               'loadavg_start': r.get('loadavg_start'), 'loadavg_end': r.get('loadavg_end'),
               'rel_l2_vs_torch': r.get('rel_l2_vs_torch'), 'runtimes': {}}
        for n, med in r['median_s'].items():
            w = r['times'][n]['wall_s']
            ips = r['batch'] / med
            g = gflop * ips if gflop else None
            out['runtimes'][n] = {'median_s': med, 'min_s': min(w), 'max_s': max(w), 'n': len(w),
                                  'img_per_s': ips, 'gflops': g,
                                  'pct_peak': 100 * g / peak if (g and peak) else None,
                                  'cpu_per_wall': r['cpu_per_wall'][n]}
        rt = out['runtimes']
        if 'facesynth' in rt and 'ov' in rt:
            out['facesynth_over_ov'] = rt['facesynth']['img_per_s'] / rt['ov']['img_per_s']
        if 'facesynth' in rt and 'ort' in rt:
            out['facesynth_over_ort'] = rt['facesynth']['img_per_s'] / rt['ort']['img_per_s']
        rows.append(out)
    res = {'env': env, 'fma_peak_runs': peaks, 'fma_peak_gflops': peak, 'settings': doc['settings'],
           'rows': rows, 'profiles': [{k: v for k, v in p.items() if k != 'report'} for p in profiles],
           'raw': doc['rows']}
    with open(a.out_json, 'w') as f:
        json.dump(res, f, indent=1)
        f.write('\n')

    def f(x, p=2):
        return '—' if x is None else f'{x:.{p}f}'
    st = doc['settings']
    m = env['machine']
    L = ['# CPU generator: facesynth against ONNX Runtime, OpenVINO and the official PyTorch, one interleaved run', '',
         f"- Date: {env['date']}, git {env['git']}" + (f" + uncommitted changes in {env['dirty']}" if env.get('dirty') else ''),
         f"- Machine: {m['nproc']} × {m['cpu']} (family/model {m['family_model']}, {m['simd']}; {m['caches']}), "
         f"{m['hypervisor']} VM, {m['mem_gib']} GiB RAM, kernel {m['kernel']}. The machine is shared with other "
         'engineers\' builds and benchmarks; load averages are recorded per row.',
         f"- Load average at start {env['loadavg_start']}, at end {env.get('loadavg_end')}; busiest processes at start: {env['busy_start']}",
         f"- Measured float32 FMA peak, {st['threads']} threads, in this run: "
         + ', '.join(f"AVX2 {p['avx2_gflops']:.1f} / AVX-512 {p['avx512_gflops']:.1f} GFLOP/s ({p.get('when', '')})" for p in peaks)
         + f"; the best, **{f(peak, 1)} GFLOP/s**, is the 100% of the tables (`bench_fma_peak`: independent FMA chains, nothing else).",
         f"- facesynth: `{env['cc']}`, `{env['cflags']}`, CPU backend, {st['threads']} threads, float32.",
         f"- Python runtimes in `bench/venv` (PyPI): torch {env['versions'].get('torch')}, onnx {env['versions'].get('onnx')}, "
         f"onnxruntime {env['versions'].get('onnxruntime')}, openvino {env['versions'].get('openvino')}, "
         f"onnxscript {env['versions'].get('onnxscript')}, numpy {env['versions'].get('numpy')}; Python {env['versions'].get('python')}. "
         + env.get('torch_note', ''),
         f"- Official code: stylegan2-ada-pytorch {env.get('official_commit')} (git-ignored `bench/third_party`).",
         f"- Each row: every runtime loaded once and kept loaded; {st['warmup']} warm-up batches each; then {st['rounds']} rounds, "
         f"each runtime {st['batches_per_round']} timed batch(es) per round, the order rotated every round, "
         'a 0.5 s pause between runtimes. Figures are medians over all timed batches of a runtime. The whole run '
         f"in a session of its own with autogroup nice {env.get('nice')}; whole run {env.get('wall_min', 0):.1f} min; status: {env.get('status')}.",
         '']
    L += ['## Results', '',
          'img/s = batch / median seconds per batch of the whole generator (z → float32 image: mapping + synthesis, '
          'psi 1, noise const). GFLOP/s on the effective FLOP of the network (bench_generator_cpu\'s model: 2 × MACs of '
          'every conv, the up-sampling conv counted as a transposed conv at its input resolution, ToRGB, affines). '
          '% peak = GFLOP/s over the measured FMA peak above. CPU/wall = CPU seconds per wall second of the runtime\'s '
          'timed batches (2.00 = both cores; spinning threads count too). "agree" = relative L2 distance of each '
          'runtime\'s output to the official PyTorch output for the same z.', '',
          '| config | batch | facesynth img/s | ONNX Runtime | OpenVINO | PyTorch | facesynth ÷ OpenVINO | facesynth ÷ ORT | load avg (start → end) |',
          '|---|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in rows:
        rt = r['runtimes']
        L.append(f"| {r['config']} | {r['batch']} | " + ' | '.join(f(rt[n]['img_per_s'], 3) if n in rt else '—'
                                                          for n in ('facesynth', 'ort', 'ov', 'torch'))
                 + f" | **{f(r.get('facesynth_over_ov'))}** | {f(r.get('facesynth_over_ort'))} | "
                 f"{' '.join(r['loadavg_start'] or [])} → {' '.join(r['loadavg_end'] or [])} |")
    if any('facesynth_base' in r['runtimes'] for r in rows):
        L += ['', f"facesynth (base) is the build of {env.get('base_desc')}, run as a fifth runtime in the same rounds:", '',
              '| config | batch | base img/s | facesynth img/s | speed-up |', '|---|---:|---:|---:|---:|']
        for r in rows:
            rt = r['runtimes']
            if 'facesynth_base' in rt:
                L.append(f"| {r['config']} | {r['batch']} | {f(rt['facesynth_base']['img_per_s'], 3)} | "
                         f"{f(rt['facesynth']['img_per_s'], 3)} | {f(rt['facesynth']['img_per_s'] / rt['facesynth_base']['img_per_s'])}× |")
    L += ['', '### GFLOP/s, % of the measured peak, CPU/wall, seconds per batch (median, min–max)', '',
          '| config | batch | runtime | s/batch | GFLOP/s | % peak | CPU/wall | agree |', '|---|---:|---|---:|---:|---:|---:|---:|']
    for r in rows:
        for n, v in r['runtimes'].items():
            ag = (r['rel_l2_vs_torch'] or {}).get(n)
            L.append(f"| {r['config']} | {r['batch']} | {NAMES.get(n, n)} | {f(v['median_s'], 3)} ({f(v['min_s'], 3)}–{f(v['max_s'], 3)}) | "
                     f"{f(v['gflops'], 1)} | {f(v['pct_peak'], 1)} | {f(v['cpu_per_wall'])} | "
                     f"{'reference' if n == 'torch' else ('—' if ag is None else format(ag, '.1e'))} |")
    L += ['', '### What each runtime ran', '']
    r0 = doc['rows'][0] if doc['rows'] else None
    if r0:
        for n, info in r0['info'].items():
            L.append(f"- {NAMES.get(n, n)}: `{json.dumps(info)}`")
        hints = [(r['label'], r['info'].get('ov', {}).get('hint'), r['info'].get('ov', {}).get('hints_tried'))
                 for r in doc['rows'] if 'ov' in r['info']]
        if hints:
            def tried(t):
                return ', '.join(f"{k} {v['median_s']:.3f} s" for k, v in (t or {}).items())
            L.append('- OpenVINO hint picked per row (both compiled with INFERENCE_PRECISION_HINT f32 and '
                     f"{st['threads']} threads, each timed, the faster kept): "
                     + '; '.join(f'{lab}: {h} ({tried(t)})' for lab, h, t in hints))
    L.append('')
    if env.get('exports'):
        L += ['ONNX exports (the official G with the official code, `torch.onnx.export(dynamo=True)`, static batch; '
              'not part of the timings):', '']
        for e in env['exports']:
            L.append(f"- `{os.path.basename(e['onnx'])}`: opset {e.get('opset')}, {e.get('bytes', 0) / 2**20:.0f} MiB, "
                     f"{e.get('export_s', 0):.0f} s, ops {json.dumps(e.get('ops'))}")
        L.append('')
    if profiles:
        L += ['## Where facesynth\'s time goes', '',
              'Share of `perf record -e cpu-clock` samples per function (self; whole process including load and init; '
              'inlined helpers count in their caller).', '']
        for p in profiles:
            L.append(f"- {p['what']}: " + (', '.join(
                f"{t['symbol']}{' [kernel]' if t['space'] == 'kernel' else ''} {100 * t['share']:.1f}%"
                for t in p['top'] if t['share'] >= 0.004) or 'not profiled'))
        L.append('')
    if env.get('notes'):
        L += ['## Notes', ''] + [f'- {n}' for n in env['notes']] + ['']
    L += ['## Commands', '', '```'] + env.get('commands', []) + ['```', '']
    with open(a.out_md, 'w') as fo:
        fo.write('\n'.join(L))
    print('\n'.join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('export')
    e.add_argument('--network', required=True)
    e.add_argument('--batch', type=int, default=1)
    e.add_argument('--out', required=True)
    e.add_argument('--psi', type=float, default=1.0)
    e.add_argument('--seed', type=int, default=0)
    e.add_argument('--opset', type=int, default=18)
    w = sub.add_parser('worker')
    w.add_argument('--runtime', required=True, choices=['ort', 'ov', 'torch'])
    w.add_argument('--network', required=True)
    w.add_argument('--onnx', required=True)
    w.add_argument('--batch', type=int, default=1)
    w.add_argument('--threads', type=int, default=2)
    w.add_argument('--seed', type=int, default=0)
    w.add_argument('--psi', type=float, default=1.0)
    w.add_argument('--hint-trials', type=int, default=2)
    d = sub.add_parser('drive')
    d.add_argument('--rows', required=True, help='JSON list of {label, config, pkl, fsw, onnx, batch}')
    d.add_argument('--facesynth-bin', required=True)
    d.add_argument('--base-bin', default=None, help='a baseline build of bench_generator_cpu (runtime facesynth_base)')
    d.add_argument('--runtimes', default='facesynth,ort,ov,torch')
    d.add_argument('--threads', type=int, default=2)
    d.add_argument('--warmup', type=int, default=2)
    d.add_argument('--rounds', type=int, default=5)
    d.add_argument('--batches-per-round', type=int, default=1)
    d.add_argument('--hint-trials', type=int, default=2)
    d.add_argument('--pause', type=float, default=0.5)
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--psi', type=float, default=1.0)
    d.add_argument('--tmp', required=True)
    d.add_argument('--out-json', required=True)
    r = sub.add_parser('report')
    r.add_argument('--drive-json', required=True)
    r.add_argument('--env-json', required=True)
    r.add_argument('--peaks', required=True)
    r.add_argument('--profiles', default='')
    r.add_argument('--out-json', required=True)
    r.add_argument('--out-md', required=True)
    a = ap.parse_args()
    {'export': cmd_export, 'worker': cmd_worker, 'drive': cmd_drive, 'report': cmd_report}[a.cmd](a)


if __name__ == '__main__':
    main()
