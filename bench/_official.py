"""Locate and import the official NVlabs stylegan2-ada-pytorch code for the bench scripts.

The official code is never part of this repository. It is expected, unmodified, in the git-ignored
folder bench/third_party/stylegan2-ada-pytorch (override with $FACESYNTH_SG2ADA). This helper only puts
that folder on sys.path and fails with instructions when it is missing.
"""

import os
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DEFAULT_DIR = os.path.join(BENCH_DIR, 'third_party', 'stylegan2-ada-pytorch')

FETCH_HELP = """\
The official StyleGAN2-ADA PyTorch code was not found in:
    {path}
Fetch it (it stays git-ignored; never copy it into tracked files), e.g.:
    git clone https://github.com/NVlabs/stylegan2-ada-pytorch.git bench/third_party/stylegan2-ada-pytorch
or point $FACESYNTH_SG2ADA at an existing checkout. Then run with /usr/bin/python3 (needs torch + numpy;
click and requests are imported by legacy.py / dnnlib)."""


def official_dir():
    return os.environ.get('FACESYNTH_SG2ADA', DEFAULT_DIR)


def add_official_to_path():
    """Insert the official checkout at the front of sys.path; exit with a clear message if absent."""
    path = official_dir()
    needed = [os.path.join(path, p) for p in ('legacy.py', 'dnnlib', 'torch_utils', os.path.join('training', 'networks.py'))]
    missing = [p for p in needed if not os.path.exists(p)]
    if missing:
        sys.stderr.write(FETCH_HELP.format(path=path) + '\nMissing: ' + ', '.join(missing) + '\n')
        sys.exit(2)
    if path not in sys.path:
        sys.path.insert(0, path)
    return path


def official_commit():
    """Best-effort commit id of the official checkout (None when it is not a git work tree)."""
    import subprocess
    try:
        out = subprocess.run(['git', '-C', official_dir(), 'rev-parse', 'HEAD'], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip() and os.path.isdir(os.path.join(official_dir(), '.git')):
            return out.stdout.strip()
    except Exception:
        pass
    stamp = os.path.join(official_dir(), 'COMMIT')
    if os.path.exists(stamp):
        return open(stamp).read().strip()
    return None


def alias_placeholder_sources(real_module_file=os.path.join('training', 'networks.py')):
    """Let pickles whose persisted `module_src` was replaced by a placeholder (our test fixtures do
    that so they carry no NVIDIA code) load with the official classes.

    Registers a torch_utils.persistence import hook: when a persistent object's module_src does not
    define its class, a module is created from the official source file but registered in persistence's
    caches under the placeholder text. The classes built from it therefore remember the placeholder as
    their source, so re-pickling the loaded objects writes the placeholder back, never the official code.
    """
    add_official_to_path()
    import types
    import uuid
    from torch_utils import persistence
    real_src_path = os.path.join(official_dir(), real_module_file)

    def hook(meta):
        src = meta.module_src
        if src in persistence._src_to_module_dict or f'class {meta.class_name}' in src:
            return meta
        with open(real_src_path, encoding='utf-8-sig') as f:
            real_src = f.read()
        name = '_imported_module_' + uuid.uuid4().hex
        module = types.ModuleType(name)
        sys.modules[name] = module
        persistence._module_to_src_dict[module] = src
        persistence._src_to_module_dict[src] = module
        exec(compile(real_src, real_src_path, 'exec'), module.__dict__)  # pylint: disable=exec-used
        return meta

    if not getattr(persistence, '_facesynth_alias_hook', False):
        persistence.import_hook(hook)
        persistence._facesynth_alias_hook = True
