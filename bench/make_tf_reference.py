#!/usr/bin/python3
"""Regenerate the official-conversion references of the TF-layout fixture.

Converts tests/fixtures/stylegan2/tiny-tf/stylegan2-tf-layout.pkl with the official
stylegan2-ada-pytorch legacy.py (bench/third_party, git-ignored): legacy.load_network_pkl(f) turns the
TF (G, D, Gs) tuple into torch modules (G_ema from Gs). Writes into tests/fixtures/stylegan2/tiny-tf/:
  G_ema_from_tf.pt  torch.save(G_ema.state_dict())  (zip format, torch 1.13)
  D_from_tf.pt      torch.save(D.state_dict())
  init_kwargs.json  the constructor kwargs legacy.py derived (init_kwargs of G, G_ema, D) and the
                    plain attributes of every submodule (dims, gains, conv_clamp, use_fp16, ...)
so a C converter's TF path can be compared bit-exactly with the official legacy conversion.
Also checks the converted networks reproduce the fixture's golden outputs (img_psi1_const.npy,
img_psi0.7_const.npy, D_scores_img_psi1_const.npy) and that G (from TF G) equals G_ema (from Gs)
when the TF G and Gs hold the same values (they do in this fixture, so no G_from_tf.pt is written).

Usage: /usr/bin/python3 bench/make_tf_reference.py
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _official  # noqa: E402

DIR = os.path.join(_official.REPO_DIR, 'tests', 'fixtures', 'stylegan2', 'tiny-tf')


def plain(v):
    """JSON form of a plain attribute value, or KeyError if it is not plain."""
    import numpy as np
    if isinstance(v, np.generic):  # first: numpy.float64 is also a float
        return {'numpy': str(v.dtype), 'value': v.item()}
    if v is None or isinstance(v, (bool, int, str, float)):
        return v
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    raise KeyError(type(v).__name__)


def module_info(net):
    info = {'class': type(net).__name__, 'init_args': plain(list(net.init_args)),
            'init_kwargs': plain(dict(net.init_kwargs)), 'modules': {}}
    for name, m in net.named_modules():
        attrs = {}
        for k, v in m.__dict__.items():
            if k.startswith('_') or k == 'training':
                continue
            try:
                attrs[k] = plain(v)
            except KeyError:
                pass
        info['modules'][name or '.'] = {'class': type(m).__name__, 'attrs': attrs}
    return info


def main():
    _official.add_official_to_path()
    import numpy as np
    import torch
    import legacy

    src = os.path.join(DIR, 'stylegan2-tf-layout.pkl')
    with open(src, 'rb') as f:
        data = legacy.load_network_pkl(f)
    G, D, G_ema = data['G'], data['D'], data['G_ema']

    # Golden outputs of the fixture.
    z = torch.from_numpy(np.load(os.path.join(DIR, 'z.npy')))
    checks = []
    for name, psi in (('img_psi1_const.npy', 1.0), ('img_psi0.7_const.npy', 0.7)):
        ref = np.load(os.path.join(DIR, name))
        img = G_ema(z, None, truncation_psi=psi, noise_mode='const').numpy()
        checks.append((name, float(np.abs(img - ref).max())))
    ws_ref = np.load(os.path.join(DIR, 'ws_psi1.npy'))
    checks.append(('ws_psi1.npy', float(np.abs(G_ema.mapping(z, None).numpy() - ws_ref).max())))
    img1 = torch.from_numpy(np.load(os.path.join(DIR, 'img_psi1_const.npy')))
    dref = np.load(os.path.join(DIR, 'D_scores_img_psi1_const.npy'))
    checks.append(('D_scores_img_psi1_const.npy', float(np.abs(D(img1, None).numpy() - dref).max())))
    for name, err in checks:
        print(f'  max |official conversion - {name}| = {err:.3g}')
        if err > 1e-4:
            sys.exit(f'{name}: official conversion does not reproduce the fixture (max err {err})')

    sd_G, sd_Gema = G.state_dict(), G_ema.state_dict()
    g_equal = list(sd_G) == list(sd_Gema) and all(torch.equal(sd_G[k], sd_Gema[k]) for k in sd_G)
    print(f'  G (from TF G) {"==" if g_equal else "!="} G_ema (from TF Gs)')

    torch.save(G_ema.state_dict(), os.path.join(DIR, 'G_ema_from_tf.pt'))
    torch.save(D.state_dict(), os.path.join(DIR, 'D_from_tf.pt'))
    if not g_equal:
        torch.save(G.state_dict(), os.path.join(DIR, 'G_from_tf.pt'))

    # Round trip of what was written.
    for fn, sd in (('G_ema_from_tf.pt', G_ema.state_dict()), ('D_from_tf.pt', D.state_dict())):
        back = torch.load(os.path.join(DIR, fn))
        assert list(back) == list(sd) and all(torch.equal(back[k], sd[k]) for k in sd), fn
        print(f'  wrote tiny-tf/{fn}: {len(sd)} tensors, {os.path.getsize(os.path.join(DIR, fn)):,} bytes')

    meta = {
        'source': 'tiny-tf/stylegan2-tf-layout.pkl converted by NVlabs stylegan2-ada-pytorch '
                  'legacy.load_network_pkl (convert_tf_generator / convert_tf_discriminator)',
        'official_commit': _official.official_commit(),
        'torch': torch.__version__,
        'G_equals_G_ema': g_equal,
        'G_ema': module_info(G_ema),
        'G': {'init_kwargs': plain(dict(G.init_kwargs)), 'note': 'same constructor as G_ema'},
        'D': module_info(D),
    }
    with open(os.path.join(DIR, 'init_kwargs.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f'  wrote tiny-tf/init_kwargs.json ({os.path.getsize(os.path.join(DIR, "init_kwargs.json")):,} bytes)')


if __name__ == '__main__':
    main()
