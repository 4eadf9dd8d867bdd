#!/usr/bin/python3
"""Make the golden fixtures tests/fixtures/stylegan2/tiny-resnet/ and tiny-orig/.

They cover the StyleGAN2 architectures the older fixtures (tiny/, tiny-cond/: G 'skip', D 'resnet') do
not: generator 'resnet' + discriminator 'skip' (tiny-resnet/), generator 'orig' + discriminator 'orig'
(tiny-orig/). The networks are built with the official classes of NVlabs stylegan2-ada-pytorch
(training/networks.py in bench/third_party, git-ignored, never copied here), run on the CPU in float32:

    G = Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=16, img_channels=3,
                  mapping_kwargs={'num_layers': 2},
                  synthesis_kwargs={'channel_base': 256, 'channel_max': 32, 'num_fp16_res': 0,
                                    'conv_clamp': 4, 'architecture': ARCH_G})
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, architecture=ARCH_D, channel_base=256,
                      channel_max=32, num_fp16_res=0, conv_clamp=4, epilogue_kwargs={'mbstd_group_size': 2})

(channels 32 at 4x4 and 8x8, 16 at 16x16.) conv_clamp 4 is small on purpose, and the script checks
that clamping is active: every layer that clamps has outputs exactly at the clamp with the golden
inputs, and the goldens differ from those of a copy built with conv_clamp=None. The seeds were picked
for that.

With a fixed seed, every parameter and buffer is moved off its initial value: weights and the const
input get a small relative perturbation, biases 0.1*randn, affine biases 1 + 0.2*randn, noise strengths
0.3*randn, noise_const + 0.1*randn, w_avg 0.5*randn (randn pushed 0.1 away from 0). The exception is
the resample_filter buffers: they stay the [1,3,3,1] filter that the constructor arguments imply, as
in the older fixtures, because they are a hyper-parameter, not a weight. This is asserted element by
element.

Each folder gets:
  network-snapshot.pkl  a training snapshot as training_loop.py writes it: dict(training_set_kwargs=None,
                        G, D, G_ema, augment_pipe=None), each module deep-copied, .eval().requires_grad_(False),
                        pickle.dump(data, f) with the default protocol; G_ema has the same values as G.
  z.npy                 [4, 32] float32 = RandomState(seed).randn(4, 32)
  ws_psi1.npy, ws_psi0.7.npy                      G_ema.mapping(z, None, truncation_psi)  [4, 6, 32]
  img_psi1_const.npy, img_psi0.7_const.npy, img_psi1_none.npy
                        G_ema.synthesis(ws, noise_mode=const/none)  [4, 3, 16, 16] float32 NCHW
  D_scores_img_psi1_const.npy                     D(img_psi1_const, c=None)  [4, 1]
  meta.json             the constructor arguments and the cases

Persistent classes pickle the source text of their module (module_src). So that no NVIDIA source ends
up in these committed files, the networks are built from a copy of the official networks.py that is
registered in torch_utils.persistence under the same placeholder text the older fixtures carry (see
_official.alias_placeholder_sources, which lets such pickles load with the official classes). The
outputs are checked for the placeholder and for the absence of every substantial line of networks.py.

After writing, the script re-runs itself with --check-only in a fresh interpreter: that loads each
snapshot with the official legacy.load_network_pkl (placeholder hook registered) and recomputes every
golden from the loaded G_ema and D.

Usage: /usr/bin/python3 bench/make_arch_fixtures.py [--check-only]
"""

import argparse
import copy
import json
import os
import pickle
import pickletools
import subprocess
import sys
import types
import uuid

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402

FIX = os.path.join(_official.REPO_DIR, 'tests', 'fixtures', 'stylegan2')
PLACEHOLDER_LINE = '# The source code of the network module is not included in this fixture.\n'
PLACEHOLDER = PLACEHOLDER_LINE * 480  # the module_src of tiny/ and tiny-cond/ (checked below)

Z_DIM = W_DIM = 32
RES = 16
BATCH = 4
CHANNEL_BASE = 256
CHANNEL_MAX = 32
MAPPING_LAYERS = 2
CONV_CLAMP = 4
MBSTD_GROUP = 2

FIXTURES = [
    # folder, G architecture, D architecture, seed (picked so that clamping acts in every layer)
    ('tiny-resnet', 'resnet', 'skip', 7),
    ('tiny-orig', 'orig', 'orig', 119),
]

CASES = {
    'img_psi1_const.npy': {'psi': 1.0, 'noise': 'const'},
    'img_psi1_none.npy': {'psi': 1.0, 'noise': 'none'},
    'img_psi0.7_const.npy': {'psi': 0.7, 'noise': 'const'},
}


def g_kwargs(arch_g, conv_clamp=CONV_CLAMP):
    return dict(z_dim=Z_DIM, c_dim=0, w_dim=W_DIM, img_resolution=RES, img_channels=3,
                mapping_kwargs=dict(num_layers=MAPPING_LAYERS),
                synthesis_kwargs=dict(channel_base=CHANNEL_BASE, channel_max=CHANNEL_MAX, num_fp16_res=0,
                                      conv_clamp=conv_clamp, architecture=arch_g))


def d_kwargs(arch_d, conv_clamp=CONV_CLAMP):
    return dict(c_dim=0, img_resolution=RES, img_channels=3, architecture=arch_d, channel_base=CHANNEL_BASE,
                channel_max=CHANNEL_MAX, num_fp16_res=0, conv_clamp=conv_clamp,
                epilogue_kwargs=dict(mbstd_group_size=MBSTD_GROUP))


def placeholder_networks_module():
    """The official training/networks.py executed as a module that torch_utils.persistence knows under
    PLACEHOLDER: its persistent classes record PLACEHOLDER as their module_src, so pickling instances
    writes the placeholder, never the official text. (Same registration as the import hook of
    _official.alias_placeholder_sources, which is also installed, so reloading maps back here.)"""
    _official.alias_placeholder_sources()
    from torch_utils import persistence
    if PLACEHOLDER in persistence._src_to_module_dict:
        return persistence._src_to_module_dict[PLACEHOLDER]
    path = os.path.join(_official.official_dir(), 'training', 'networks.py')
    with open(path, encoding='utf-8-sig') as f:
        real_src = f.read()
    name = '_imported_module_' + uuid.uuid4().hex
    module = types.ModuleType(name)
    sys.modules[name] = module
    persistence._module_to_src_dict[module] = PLACEHOLDER
    persistence._src_to_module_dict[PLACEHOLDER] = module
    exec(compile(real_src, path, 'exec'), module.__dict__)  # pylint: disable=exec-used
    return module


def perturb(module, gen):
    """Move every parameter and buffer (except resample_filter) off its value, deterministically."""
    import torch

    def randn(t):  # standard normal pushed 0.1 away from 0, so that no element keeps its value
        r = torch.randn(t.shape, generator=gen, dtype=torch.float32)
        return torch.where(r >= 0, r + 0.1, r - 0.1)

    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit('.', 1)[-1]
            if name.endswith('affine.bias'):
                p.copy_(1 + 0.2 * randn(p))
            elif leaf == 'bias':
                p.copy_(0.1 * randn(p))
            elif leaf == 'noise_strength':
                p.copy_(0.3 * randn(p))
            elif leaf in ('weight', 'const'):
                p.add_(0.05 * p.std() * randn(p))
            else:
                raise RuntimeError(f'unexpected parameter {name}')
        for name, b in module.named_buffers():
            leaf = name.rsplit('.', 1)[-1]
            if leaf == 'resample_filter':
                continue
            elif leaf == 'noise_const':
                b.add_(0.1 * randn(b))
            elif leaf == 'w_avg':
                b.copy_(0.5 * randn(b))
            else:
                raise RuntimeError(f'unexpected buffer {name}')


def check_all_moved(before, module, label):
    import torch
    from torch_utils.ops import upfirdn2d
    filt = upfirdn2d.setup_filter([1, 3, 3, 1])
    after = module.state_dict()
    assert list(before) == list(after), label
    for k, v in after.items():
        if k.endswith('resample_filter'):
            assert torch.equal(v, filt), f'{label}.{k} is not the [1,3,3,1] filter'
            continue
        same = (v == before[k])
        assert not bool(same.any()), f'{label}.{k}: {int(same.sum())} of {v.numel()} elements kept their value'


def build(arch_g, arch_d, seed):
    import torch
    nets = placeholder_networks_module()
    torch.manual_seed(seed)
    G = nets.Generator(**g_kwargs(arch_g))
    D = nets.Discriminator(**d_kwargs(arch_d))
    gen = torch.Generator().manual_seed(1000 + seed)
    for label, m in (('G', G), ('D', D)):
        before = {k: v.clone() for k, v in m.state_dict().items()}
        perturb(m, gen)
        check_all_moved(before, m, label)
    G.eval().requires_grad_(False)
    D.eval().requires_grad_(False)

    # As training_loop.py writes a snapshot (G_ema starts as a copy of G; here it keeps G's values).
    snapshot = dict(training_set_kwargs=None)
    for name, module in [('G', G), ('D', D), ('G_ema', G), ('augment_pipe', None)]:
        if module is not None:
            module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
        snapshot[name] = module
    return snapshot


def goldens(G, D, seed):
    """All golden arrays (numpy float32) for one G_ema / D pair."""
    import numpy as np
    import torch
    z = np.random.RandomState(seed).randn(BATCH, Z_DIM).astype(np.float32)
    out = {'z.npy': z}
    with torch.no_grad():
        zt = torch.from_numpy(z)
        ws = {psi: G.mapping(zt, None, truncation_psi=psi) for psi in (1.0, 0.7)}
        out['ws_psi1.npy'] = ws[1.0]
        out['ws_psi0.7.npy'] = ws[0.7]
        for fname, case in CASES.items():
            out[fname] = G.synthesis(ws[case['psi']], noise_mode=case['noise'])
        out['D_scores_img_psi1_const.npy'] = D(out['img_psi1_const.npy'], None)
    res = {}
    for k, v in out.items():
        a = v.numpy() if isinstance(v, torch.Tensor) else v
        assert a.dtype == np.float32 and np.isfinite(a).all(), k
        res[k] = np.ascontiguousarray(a)
    return res


def clamp_effect(G, D, arch_g, arch_d, seed):
    """Where conv_clamp acts. Returns ({layer: number of output elements exactly at the clamp} for
    every layer that clamps, with the golden inputs), and the max |difference| of the img_psi1_const
    golden and of the D scores when the same weights run with conv_clamp=None."""
    import numpy as np
    import torch
    from torch_utils import misc
    counts, handles = {}, []
    for tag, net in (('G', G), ('D', D)):
        for name, mod in net.named_modules():
            if getattr(mod, 'conv_clamp', None) is not None:
                def hook(mod, inputs, out, key=f'{tag}.{name}'):
                    # The clamp is conv_clamp * gain: gain sqrt(0.5) in the resnet conv1 layers.
                    at = [float(np.float32(mod.conv_clamp * g)) for g in (1, np.sqrt(0.5))]
                    counts[key] = int(sum((out.abs() == c).sum() for c in at))
                handles.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        ws = G.mapping(torch.from_numpy(np.random.RandomState(seed).randn(BATCH, Z_DIM).astype(np.float32)), None)
        img = G.synthesis(ws, noise_mode='const')
        D(img, None)
    for h in handles:
        h.remove()

    nets = placeholder_networks_module()
    G2 = nets.Generator(**g_kwargs(arch_g, None)).eval().requires_grad_(False)
    D2 = nets.Discriminator(**d_kwargs(arch_d, None)).eval().requires_grad_(False)
    misc.copy_params_and_buffers(G, G2, require_all=True)
    misc.copy_params_and_buffers(D, D2, require_all=True)
    with torch.no_grad():
        diff = {'G img_psi1_const': (G2.synthesis(ws, noise_mode='const') - img).abs().max().item(),
                'D scores': (D2(img, None) - D(img, None)).abs().max().item()}
    return counts, diff


def meta_json(arch_g, arch_d, seed, G):
    return {
        'source': 'NVlabs stylegan2-ada-pytorch training/networks.py, run on the CPU with float32',
        'made_by': 'bench/make_arch_fixtures.py',
        'seed': seed,
        'architecture': arch_g,
        'z_dim': Z_DIM,
        'w_dim': W_DIM,
        'c_dim': 0,
        'img_resolution': RES,
        'channel_base': CHANNEL_BASE,
        'channel_max': CHANNEL_MAX,
        'num_fp16_res': 0,
        'mapping_layers': MAPPING_LAYERS,
        'conv_clamp': float(CONV_CLAMP),
        'num_ws': int(G.num_ws),
        'batch': BATCH,
        'G_ema_equals_G': True,
        'cases': {
            'ws_psi1.npy': {'psi': 1.0},
            'ws_psi0.7.npy': {'psi': 0.7},
            **CASES,
            'D_scores_img_psi1_const.npy': {'input': 'img_psi1_const.npy', 'c': None},
        },
        'D': {
            'architecture': arch_d,
            'mbstd_group_size': MBSTD_GROUP,
            'mbstd_num_channels': 1,
        },
    }


def source_lines():
    """Substantial lines of the official networks.py (none may appear in a fixture)."""
    path = os.path.join(_official.official_dir(), 'training', 'networks.py')
    with open(path, encoding='utf-8-sig') as f:
        lines = [ln.strip() for ln in f]
    return sorted({ln for ln in lines if len(ln) >= 24})


def pickle_text_checks(raw):
    errors = []
    strings = [arg for op, arg, _ in pickletools.genops(raw) if isinstance(arg, str) and len(arg) > 1000]
    if not strings or any(s != PLACEHOLDER for s in strings):
        errors.append('module_src is not (only) the placeholder')
    for needle in (b'NVIDIA', b'def modulated_conv2d', b'class SynthesisLayer', b'Copyright'):
        if needle in raw:
            errors.append(f'{needle!r} found')
    leaked = [ln for ln in source_lines() if ln.encode() in raw]
    if leaked:
        errors.append(f'{len(leaked)} lines of networks.py found, e.g. {leaked[0]!r}')
    return errors


def existing_placeholder_matches():
    """True when tiny/network-snapshot.pkl carries the same placeholder (None when absent)."""
    path = os.path.join(FIX, 'tiny', 'network-snapshot.pkl')
    if not os.path.exists(path):
        return None
    raw = open(path, 'rb').read()
    return any(isinstance(arg, str) and arg == PLACEHOLDER for _, arg, _ in pickletools.genops(raw))


def write(folder, arch_g, arch_d, seed):
    import numpy as np
    out_dir = os.path.join(FIX, folder)
    os.makedirs(out_dir, exist_ok=True)
    snapshot = build(arch_g, arch_d, seed)
    G, D = snapshot['G_ema'], snapshot['D']
    arrays = goldens(G, D, seed)
    counts, diff = clamp_effect(G, D, arch_g, arch_d, seed)
    if not counts or not all(counts.values()) or not all(diff.values()):
        raise SystemExit(f'{folder}: conv_clamp {CONV_CLAMP} does not act in every layer: {counts}, {diff}')

    pkl = os.path.join(out_dir, 'network-snapshot.pkl')
    tmp = pkl + '.tmp.' + str(os.getpid())
    with open(tmp, 'wb') as f:
        pickle.dump(snapshot, f)  # exactly what training_loop.py does (default protocol)
    errors = pickle_text_checks(open(tmp, 'rb').read())
    if errors:
        os.remove(tmp)
        raise SystemExit(f'{pkl}: ' + '; '.join(errors))
    os.replace(tmp, pkl)
    for name, a in arrays.items():
        np.save(os.path.join(out_dir, name), a)
    with open(os.path.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta_json(arch_g, arch_d, seed, G), f, indent=1)
        f.write('\n')

    nparams = {k: sum(p.numel() for p in snapshot[k].parameters()) for k in ('G', 'D')}
    print(f'wrote {os.path.relpath(out_dir, _official.REPO_DIR)}/: G {arch_g}, D {arch_d}, seed {seed}, '
          f'parameters {nparams}, num_ws {G.num_ws}')
    print(f'  conv_clamp {CONV_CLAMP} acts in all {len(counts)} clamping layers (elements at the clamp: '
          + ', '.join(f'{k} {v}' for k, v in counts.items()) + ')')
    print('  vs conv_clamp None, max |diff|: ' + ', '.join(f'{k} {v:.3g}' for k, v in diff.items()))
    d = arrays
    print(f'  |img const - none| max {np.abs(d["img_psi1_const.npy"] - d["img_psi1_none.npy"]).max():.3g}, '
          f'|img psi1 - psi0.7| max {np.abs(d["img_psi1_const.npy"] - d["img_psi0.7_const.npy"]).max():.3g}, '
          f'img range [{d["img_psi1_const.npy"].min():.3g}, {d["img_psi1_const.npy"].max():.3g}], '
          f'D scores {d["D_scores_img_psi1_const.npy"].ravel().round(4).tolist()}')


def check(folder, arch_g, arch_d, seed):
    """Load with the official legacy.load_network_pkl and recompute every golden."""
    import numpy as np
    import torch
    _official.alias_placeholder_sources()
    import legacy
    out_dir = os.path.join(FIX, folder)
    pkl = os.path.join(out_dir, 'network-snapshot.pkl')
    raw = open(pkl, 'rb').read()
    errors = pickle_text_checks(raw)
    with open(pkl, 'rb') as f:
        data = legacy.load_network_pkl(f)
    if list(data) != ['training_set_kwargs', 'G', 'D', 'G_ema', 'augment_pipe']:
        errors.append(f'snapshot keys {list(data)}')
    if data['training_set_kwargs'] is not None or data['augment_pipe'] is not None:
        errors.append('training_set_kwargs / augment_pipe not None')
    if data['G'] is data['G_ema']:
        errors.append('G and G_ema are one object')
    G, D = data['G_ema'], data['D']
    gsd, esd = data['G'].state_dict(), G.state_dict()
    if list(gsd) != list(esd) or not all(torch.equal(gsd[k], esd[k]) for k in gsd):
        errors.append('G and G_ema differ')
    if dict(G.init_kwargs) != g_kwargs(arch_g) or dict(data['G'].init_kwargs) != g_kwargs(arch_g):
        errors.append(f'G init_kwargs {G.init_kwargs}')
    if dict(D.init_kwargs) != d_kwargs(arch_d):
        errors.append(f'D init_kwargs {D.init_kwargs}')
    for m in (data['G'], D, G):
        if m.training or any(p.requires_grad for p in m.parameters()):
            errors.append(f'{type(m).__name__} not eval / requires_grad_(False)')
        if any(t.dtype != torch.float32 for t in list(m.parameters()) + list(m.buffers())):
            errors.append(f'{type(m).__name__} has non-float32 tensors')
    meta = json.load(open(os.path.join(out_dir, 'meta.json')))
    if meta['architecture'] != arch_g or meta['D']['architecture'] != arch_d:
        errors.append('meta.json architectures')
    want = goldens(G, D, seed)
    worst = 0.0
    for name, a in want.items():
        got = np.load(os.path.join(out_dir, name))
        if got.dtype != np.float32 or got.shape != a.shape:
            errors.append(f'{name}: {got.dtype} {got.shape}')
            continue
        diff = float(np.abs(got - a).max())
        worst = max(worst, diff)
        if diff > 1e-5 * max(1.0, float(np.abs(a).max())):
            errors.append(f'{name}: max |diff| {diff:.3g}')
    files = sorted(os.listdir(out_dir))
    size = sum(os.path.getsize(os.path.join(out_dir, n)) for n in files)
    if size > 1 << 20:
        errors.append(f'folder is {size} bytes')
    status = 'OK' if not errors else 'FAIL'
    print(f'{status} {os.path.relpath(out_dir, _official.REPO_DIR)}/ ({len(files)} files, {size:,} bytes): '
          f'legacy.load_network_pkl loads G {arch_g} / D {arch_d}, {len(want)} goldens reproduced '
          f'(max |diff| {worst:.3g}), no official source text in the pickle')
    for e in errors:
        print('   ', e)
    return not errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--check-only', action='store_true',
                    help='only load the existing outputs with legacy.load_network_pkl and verify them')
    args = ap.parse_args()

    if args.check_only:
        ok = all([check(*fx) for fx in FIXTURES])
        sys.exit(0 if ok else 1)

    same = existing_placeholder_matches()
    if same is False:
        raise SystemExit('tiny/network-snapshot.pkl carries a different placeholder module_src; update PLACEHOLDER')
    for fx in FIXTURES:
        write(*fx)
    # Verify in a fresh interpreter, so nothing from the build process (module caches) is reused.
    r = subprocess.run([sys.executable, os.path.abspath(__file__), '--check-only'])
    sys.exit(r.returncode)


if __name__ == '__main__':
    main()
