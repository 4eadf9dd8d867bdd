#!/usr/bin/env python3
"""An independent reader of facesynth's dataset outputs (docs/datasets.md),
run by tests/test_cli_dataset.c: Python's standard library only (json,
tarfile, zlib, struct), nothing shared with the C code.

    test_dataset_reader.py dataset OUT
        job.json, manifest.jsonl, dataset.json and every image file or tar
        member of a complete dataset; every seeded draw (variation seeds,
        identity mixup decisions, sources and phi, edit strengths) and every
        label recomputed here from the documented formulas.
    test_dataset_reader.py mixup OUT SYNTHETIC REAL (weight PHI | beta A,B)
        a `facesynth mixup` output: the pairing and phi draws, the soft
        labels, and every blended pixel recomputed from the two inputs in
        emulated float32.
    test_dataset_reader.py draws SEED
        prints fs_ds_seed32 for a few streams and numpy-legacy beta draws, for
        the C unit test to compare against.

Prints one line per problem and exits 1, or prints a summary and exits 0."""
import json
import math
import os
import struct
import sys
import tarfile
import zlib

# ---- numbers ------------------------------------------------------------------------


def f32(x):
    """x rounded to float32 (round half to even). An operation on float32
    values done in double and rounded once to float32 gives the float32
    result: double has more than 2 * 24 + 2 bits, so the double rounding is
    innocuous for +, -, *."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def fmt_float(v):
    """The C side's "%.9g" of a float32 ("%.0f" when integral)."""
    if v == math.floor(v) and abs(v) < 1e7:
        return '%.0f' % v
    return '%.9g' % v


# ---- Philox4x32-10 (Random123) --------------------------------------------------------

M32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c = list(ctr)
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c[3] ^ k1) & M32, p0 & M32]
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return c


def seed32(s, tag, i, j):
    return philox4x32_10([i & M32, i >> 32, j, 0], [s, tag])[0]


TAG_VARIATION, TAG_MIXUP, TAG_DOMAIN = 1, 2, 3

# ---- numpy's legacy RandomState, from its published algorithms ---------------------------


class RandomState:
    """MT19937 seeded with init_genrand, random_sample as genrand_res53,
    the polar Gaussian with its cached second value, and the legacy
    gamma/beta samplers."""

    def __init__(self, seed):
        mt = [0] * 624
        mt[0] = seed & M32
        for i in range(1, 624):
            mt[i] = (1812433253 * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i) & M32
        self.mt, self.pos, self.gauss = mt, 624, None

    def u32(self):
        if self.pos >= 624:
            mt = self.mt
            for k in range(624):
                y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7FFFFFFF)
                mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            self.pos = 0
        y = self.mt[self.pos]
        self.pos += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y & M32

    def random_sample(self):
        a, b = self.u32() >> 5, self.u32() >> 6
        return (a * 67108864.0 + b) / 9007199254740992.0

    def standard_normal(self):
        if self.gauss is not None:
            g, self.gauss = self.gauss, None
            return g
        while True:
            x1 = 2.0 * self.random_sample() - 1.0
            x2 = 2.0 * self.random_sample() - 1.0
            r2 = x1 * x1 + x2 * x2
            if 0.0 < r2 < 1.0:
                break
        f = math.sqrt(-2.0 * math.log(r2) / r2)
        self.gauss = f * x1
        return f * x2

    def uniform(self, lo, hi):
        return lo + (hi - lo) * self.random_sample()

    def standard_exponential(self):
        return -math.log(1.0 - self.random_sample())

    def standard_gamma(self, shape):
        if shape == 1.0:
            return self.standard_exponential()
        if shape == 0.0:
            return 0.0
        if shape < 1.0:
            while True:
                u = self.random_sample()
                v = self.standard_exponential()
                if u <= 1.0 - shape:
                    x = math.pow(u, 1.0 / shape)
                    if x <= v:
                        return x
                else:
                    y = -math.log((1 - u) / shape)
                    x = math.pow(1.0 - shape + shape * y, 1.0 / shape)
                    if x <= v + y:
                        return x
        b = shape - 1.0 / 3.0
        c = 1.0 / math.sqrt(9 * b)
        while True:
            while True:
                x = self.standard_normal()
                v = 1.0 + c * x
                if v > 0.0:
                    break
            v = v * v * v
            u = self.random_sample()
            if u < 1.0 - 0.0331 * (x * x) * (x * x):
                return b * v
            if math.log(u) < 0.5 * x * x + b * (1.0 - v + math.log(v)):
                return b * v

    def beta(self, a, b):
        if a <= 1.0 and b <= 1.0:
            while True:
                u, v = self.random_sample(), self.random_sample()
                x, y = math.pow(u, 1.0 / a), math.pow(v, 1.0 / b)
                if x + y <= 1.0:
                    if x + y > 0:
                        return x / (x + y)
                    lx, ly = math.log(u) / a, math.log(v) / b
                    lm = max(lx, ly)
                    lx, ly = lx - lm, ly - lm
                    return math.exp(lx - math.log(math.exp(lx) + math.exp(ly)))
        ga = self.standard_gamma(a)
        gb = self.standard_gamma(b)
        return ga / (ga + gb)


def draw_index(r, n):
    k = int(r.random_sample() * n)
    return min(k, n - 1)

# ---- images -----------------------------------------------------------------------------


def png_decode(data, what):
    """(width, height, channels, rows of bytes) of an 8-bit non-interlaced
    PNG, every chunk CRC checked, the filters undone."""
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('%s: not a PNG' % what)
    pos, idat, ihdr, end = 8, b'', None, False
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(typ + body) & M32 != crc:
            raise ValueError('%s: bad CRC in %s' % (what, typ))
        if typ == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif typ == b'IDAT':
            idat += body
        elif typ == b'IEND':
            end = True
            break
        pos += 12 + n
    if not ihdr or not end or pos + 12 != len(data):
        raise ValueError('%s: no IHDR/IEND, or bytes after IEND' % what)
    w, h, depth, ctype, _, _, interlace = ihdr
    ch = {0: 1, 4: 2, 2: 3, 6: 4}.get(ctype)
    if depth != 8 or interlace or ch is None:
        raise ValueError('%s: not an 8-bit non-interlaced gray/RGB PNG' % what)
    raw = zlib.decompress(idat)
    stride = w * ch
    if len(raw) != h * (stride + 1):
        raise ValueError('%s: %d bytes of image data, expected %d' % (what, len(raw), h * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 255
            elif f != 0:
                raise ValueError('%s: filter type %d' % (what, f))
        rows.append(bytes(line))
        prev = line
    return w, h, ch, rows


def jpeg_size(data, what):
    """(width, height, components) from the SOF of a baseline JPEG ending in EOI."""
    if data[:2] != b'\xff\xd8' or data[-2:] != b'\xff\xd9':
        raise ValueError('%s: no JPEG SOI/EOI' % what)
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError('%s: marker expected at %d' % (what, i))
        m = data[i + 1]
        n = struct.unpack('>H', data[i + 2:i + 4])[0]
        if m == 0xC0:
            h, w = struct.unpack('>HH', data[i + 5:i + 9])
            return w, h, data[i + 9]
        i += 2 + n
    raise ValueError('%s: no baseline SOF0' % what)


def check_image(data, name, res, channels, fail):
    try:
        if name.endswith('.png'):
            w, h, ch, _ = png_decode(data, name)
        else:
            w, h, ch = jpeg_size(data, name)
        if (w, h, ch) != (res, res, channels):
            fail('%s: %dx%d x %d, expected %dx%d x %d' % (name, w, h, ch, res, res, channels))
    except ValueError as e:
        fail(str(e))

# ---- datasets -----------------------------------------------------------------------------


def layers_string(mask, n):
    out, l = [], 0
    while l < n:
        if not mask >> l & 1:
            l += 1
            continue
        e = l
        while e + 1 < n and mask >> (e + 1) & 1:
            e += 1
        out.append('%d-%d' % (l, e) if e > l else '%d' % l)
        l = e + 1
    return ','.join(out) or 'none'


def plan(job):
    """The identity mixup draws of every identity: {i: (a, b, phi)} for the
    mixed ones."""
    n, p, s = job['identities'], job['mixup_prob'], job['seed']
    if p == 0:
        return {}
    mixed, pure = [], []
    for i in range(n):
        r = RandomState(seed32(s, TAG_MIXUP, i, 0))
        (mixed if r.random_sample() < p else pure).append(i)
    out = {}
    for i in mixed:
        r = RandomState(seed32(s, TAG_MIXUP, i, 0))
        r.random_sample()
        ka = draw_index(r, len(pure))
        kb = draw_index(r, len(pure) - 1)
        kb += kb >= ka
        if job['mixup_weight'] is not None:
            phi = job['mixup_weight']
        else:
            phi = r.beta(*job['mixup_beta'])
        out[i] = (pure[ka], pure[kb], phi)
    return out


def expected_names(job):
    n, m = job['identities'], job['per_identity']
    total = n * m
    ext = job['image']
    idd, vd = max(5, len(str(n - 1))), max(4, len(str(m - 1)))
    xd = max(9, len(str(total - 1)))
    if job['format'] == 'tar':
        return ['%0*d.%s' % (xd, g, ext) for g in range(total)]
    return ['%0*d/%0*d.%s' % (idd, g // m, vd, g % m, ext) for g in range(total)]


def check_dataset(out):
    problems = []

    def fail(msg):
        problems.append(msg)
        if len(problems) > 20:
            raise SystemExit('\n'.join(problems) + '\n(more)')

    job = json.load(open(os.path.join(out, 'job.json')))
    n, m, s, chunk = job['identities'], job['per_identity'], job['seed'], job['chunk']
    total = n * m
    n_chunks = (total + chunk - 1) // chunk
    names = expected_names(job)
    mix = plan(job)
    sg2 = job['family'] == 'stylegan2'
    with open(os.path.join(out, 'manifest.jsonl'), 'rb') as f:
        lines = f.read().split(b'\n')
    if lines[-1] != b'':
        fail('manifest.jsonl: the last line has no newline')
    lines = lines[:-1]
    if len(lines) != total:
        fail('manifest.jsonl: %d lines, expected %d' % (len(lines), total))
    labels = json.load(open(os.path.join(out, 'dataset.json')))['labels']
    if len(labels) != total:
        fail('dataset.json: %d labels, expected %d' % (len(labels), total))
    n_mixed = 0
    for g, raw in enumerate(lines):
        e = json.loads(raw)
        i, j = g // m, g % m
        want = {'index': g, 'file': names[g], 'identity': i, 'variation': j, 'seed': s,
                'family': job['family'], 'network_sha256': job['network_sha256']}
        if job['format'] == 'tar':
            want['tar'] = '%0*d.tar' % (max(6, len(str(n_chunks - 1))), g // chunk)
        v = seed32(s, TAG_VARIATION, i, j)
        want['variation_seed'] = v
        want['identity_seed'] = (s + i) & M32 if sg2 else None
        if sg2:
            want['psi'] = job['psi']
            want['noise'] = job['noise']
            want['noise_seed'] = v if job['noise'] == 'random' else None
            want['mix_layers'] = job['mix_layers']
        # the variation stream: z, then one strength per edit
        r = RandomState(v)
        for _ in range(job['z_dim']):
            r.standard_normal()
        alphas = [r.uniform(*ed['range']) for ed in job['edits']]
        if len(e['edits']) != len(alphas):
            fail('%s: %d edits, expected %d' % (names[g], len(e['edits']), len(alphas)))
        for k, (ed, a) in enumerate(zip(job['edits'], alphas)):
            got = e['edits'][k] if k < len(e['edits']) else {}
            if got.get('alpha') != a or got.get('boundary') != ed['boundary'] or \
                    got.get('sha256') != ed['sha256'] or got.get('layers') != job['edit_layers']:
                fail('%s: edit %d is %r, expected alpha %r along %s' % (names[g], k, got, a, ed['boundary']))
        if i in mix:
            n_mixed += 1
            a, b, phi = mix[i]
            want['mixup'] = {'sources': [a, b], 'phi': phi}
            wl = [[a, f32(phi)], [b, f32(1.0 - phi)]]
        else:
            want['mixup'] = None
            wl = [[i, 1]]
        for key, val in want.items():
            if e.get(key) != val:
                fail('%s: manifest %s is %r, expected %r' % (names[g], key, e.get(key), val))
        if [[c, f32(w)] for c, w in e['label']] != [[c, f32(w)] for c, w in wl]:
            fail('%s: label %r, expected %r' % (names[g], e['label'], wl))
        # dataset.json: the same file, and the label as a class id or vector
        name, lab = labels[g]
        if name != names[g]:
            fail('dataset.json item %d is %s, expected %s' % (g, name, names[g]))
        if job['mixup_prob'] > 0:
            vec = [0.0] * n
            for c, w in wl:
                vec[c] = f32(w)
            if [f32(x) for x in lab] != vec:
                fail('dataset.json %s: %r, expected %r' % (name, lab[:8], vec[:8]))
        elif lab != i:
            fail('dataset.json %s: label %r, expected %d' % (name, lab, i))
    # the files
    res, ch = job['resolution'], job['channels']
    entries = set(os.listdir(out))
    base = {'job.json', 'manifest.jsonl', 'dataset.json', 'run.log'}
    if job['format'] == 'tar':
        tars = ['%0*d.tar' % (max(6, len(str(n_chunks - 1))), c) for c in range(n_chunks)]
        if entries != base | set(tars):
            fail('OUT holds %s, expected the tars and %s' % (sorted(entries - base - set(tars)) or
                                                              sorted(set(tars) - entries), sorted(base)))
        for c, t in enumerate(tars):
            with tarfile.open(os.path.join(out, t)) as tf:
                members = tf.getmembers()
                g0, g1 = c * chunk, min(total, (c + 1) * chunk)
                want_names = []
                for g in range(g0, g1):
                    key = names[g].rsplit('.', 1)[0]
                    want_names += [names[g], key + '.json', key + '.cls']
                if [x.name for x in members] != want_names:
                    fail('%s: members %r..., expected %r...' % (t, [x.name for x in members][:4], want_names[:4]))
                    continue
                for x in members:
                    if not x.isreg() or x.mtime != 0 or x.uid or x.gid or x.mode != 0o644:
                        fail('%s/%s: not a plain 0644 file of time 0 owned by 0' % (t, x.name))
                for g in range(g0, g1):
                    key = names[g].rsplit('.', 1)[0]
                    check_image(tf.extractfile(names[g]).read(), t + '/' + names[g], res, ch, fail)
                    if tf.extractfile(key + '.json').read() != lines[g]:
                        fail('%s/%s.json is not its manifest line' % (t, key))
                    if tf.extractfile(key + '.cls').read() != str(g // m).encode():
                        fail('%s/%s.cls is not %d' % (t, key, g // m))
    else:
        ids = ['%0*d' % (max(5, len(str(n - 1))), i) for i in range(n)]
        if entries != base | set(ids):
            fail('OUT holds %s beyond the identities and %s' % (sorted(entries - base - set(ids)), sorted(base)))
        for i, d in enumerate(ids):
            files = set(os.listdir(os.path.join(out, d))) if os.path.isdir(os.path.join(out, d)) else set()
            want = set(x.split('/')[1] for x in names[i * m:(i + 1) * m])
            if files != want:
                fail('%s holds %s, expected %s' % (d, sorted(files ^ want)[:4], len(want)))
        for g in range(total):
            p = os.path.join(out, names[g])
            if os.path.exists(p):
                check_image(open(p, 'rb').read(), names[g], res, ch, fail)
    if problems:
        print('\n'.join(problems))
        return 1
    print('ok: %d images of %d identities (%d mixed), %d chunks, format %s/%s, every draw and '
          'label recomputed' % (total, n, len(mix), n_chunks, job['format'], job['image']))
    return 0


# ---- domain mixup -----------------------------------------------------------------------------


def list_set(d):
    """(relative paths, labels as vectors, class names) as docs/datasets.md
    defines a set."""
    isimg = lambda s: not s.startswith('.') and s.lower().rsplit('.', 1)[-1] in ('png', 'jpg', 'jpeg') and '.' in s
    lp = os.path.join(d, 'dataset.json')
    if os.path.exists(lp):
        items = json.load(open(lp))['labels']
        ints = all(isinstance(l, int) for _, l in items)
        nc = max(l for _, l in items) + 1 if ints else len(items[0][1])
        rels = sorted(items, key=lambda x: x[0].encode())
        vecs = [[float(k == l) for k in range(nc)] if ints else [f32(x) for x in l] for _, l in rels]
        return [r for r, _ in rels], vecs, [str(c) for c in range(nc)]
    classes = sorted((c for c in os.listdir(d) if not c.startswith('.') and os.path.isdir(os.path.join(d, c))),
                     key=lambda s: s.encode())
    rels, labels, names = [], [], []
    for c in classes:
        fs = sorted((f for f in os.listdir(os.path.join(d, c)) if isimg(f) and
                     os.path.isfile(os.path.join(d, c, f))), key=lambda s: s.encode())
        if fs:
            names.append(c)
            rels += [c + '/' + f for f in fs]
            labels += [len(names) - 1] * len(fs)
    if not names:
        rels = sorted((f for f in os.listdir(d) if isimg(f)), key=lambda s: s.encode())
        labels, names = [0] * len(rels), [os.path.basename(d.rstrip('/'))]
    nc = len(names)
    return rels, [[float(k == l) for k in range(nc)] for l in labels], names


def check_mixup(out, syn, real, how, value):
    problems = []
    fail = problems.append
    srel, slab, sn = list_set(syn)
    rrel, rlab, rn = list_set(real)
    lines = open(os.path.join(out, 'manifest.jsonl')).read().splitlines()
    meta = json.load(open(os.path.join(out, 'dataset.json')))
    if meta['classes'] != ['synthetic/' + c for c in sn] + ['real/' + c for c in rn]:
        fail('dataset.json classes %r' % meta['classes'][:6])
    if len(lines) != len(srel) or len(meta['labels']) != len(srel):
        fail('%d manifest lines, %d labels, expected %d' % (len(lines), len(meta['labels']), len(srel)))
    pixels = 0
    for j, raw in enumerate(lines):
        e = json.loads(raw)
        seed = e['seed']
        r = RandomState(seed32(seed, TAG_DOMAIN, j, 0))
        k = draw_index(r, len(rrel))
        phi = float(value) if how == 'weight' else r.beta(*map(float, value.split(',')))
        if e['phi'] != phi:
            fail('%d: phi %r, expected %r' % (j, e['phi'], phi))
            continue
        outname = srel[j].rsplit('.', 1)[0] + '.png'
        if e['file'] != outname or e['synthetic'] != srel[j] or e['real'] != rrel[k]:
            fail('%d: %s from %s + %s, expected %s from %s + %s' % (j, e['file'], e['synthetic'], e['real'],
                                                                    outname, srel[j], rrel[k]))
            continue
        ws, wr = f32(phi), f32(1.0 - phi)
        vec = [f32(ws * x) for x in slab[j]] + [f32(wr * x) for x in rlab[k]]
        name, lab = meta['labels'][j]
        if name != outname or [f32(x) for x in lab] != vec:
            fail('%d: dataset.json %s %r, expected %r' % (j, name, lab, vec))
        sparse = [[c, x] for c, x in enumerate(vec) if x != 0]
        if [[c, f32(x)] for c, x in e['label']] != sparse:
            fail('%d: manifest label %r, expected %r' % (j, e['label'], sparse))
        # the pixels: u8(f32(f32(a w) + f32(b (1 - w))) + 0.5) truncated
        _, _, _, a_rows = png_decode(open(os.path.join(syn, srel[j]), 'rb').read(), srel[j])
        _, _, _, b_rows = png_decode(open(os.path.join(real, rrel[k]), 'rb').read(), rrel[k])
        _, _, _, o_rows = png_decode(open(os.path.join(out, outname), 'rb').read(), outname)
        table = {}
        for ar, br, orow in zip(a_rows, b_rows, o_rows):
            for a, b, o in zip(ar, br, orow):
                key = (a, b)
                if key not in table:
                    v = f32(f32(f32(a * ws) + f32(b * wr)) + 0.5)
                    table[key] = 0 if not v > 0 else 255 if v >= 255 else int(v)
                if table[key] != o:
                    fail('%s: pixel %d, expected %d from %d and %d' % (outname, o, table[key], a, b))
                    break
                pixels += 1
    if problems:
        print('\n'.join(problems[:20]))
        return 1
    print('ok: %d blends, %d pixel values and every label recomputed' % (len(lines), pixels))
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'dataset':
        return check_dataset(sys.argv[2])
    if len(sys.argv) == 7 and sys.argv[1] == 'mixup' and sys.argv[5] in ('weight', 'beta'):
        return check_mixup(*sys.argv[2:7])
    if len(sys.argv) == 3 and sys.argv[1] == 'draws':
        s = int(sys.argv[2])
        for tag, i, j in ((1, 0, 0), (1, 7, 3), (2, 123456789012, 0), (3, 5, 0)):
            print('seed32', s, tag, i, j, seed32(s, tag, i, j))
        for a, b in ((0.5, 0.5), (1, 1), (2, 3), (0.3, 4.0)):
            r = RandomState(s)
            print('beta', s, a, b, ' '.join(repr(r.beta(a, b)) for _ in range(3)))
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
