"""PyTorch reference for src/data/augment.ts (used by augment.test.ts, never by the lab).

Usage: augment_reference.py SPEC.json

SPEC holds any of:
  "resample": {"shape": [D, H, W], "input": "<float32 LE raw crop>",
               "matrices": [[12 numbers, row-major 3x4], ...],
               "dtype": "float32" | "float64", "output": "<path>"}
      Applies F.affine_grid(theta, (1, 1, D, H, W), align_corners=False) and
      F.grid_sample(..., mode='bilinear', padding_mode='border', align_corners=False), the book's
      p2ch12 getCtAugmentedCandidate, in the given dtype; writes the results, one crop after the
      other, as float64 LE to "output".
  "transforms": [{"draws": [numbers in [0, 1)], "aug": {"flip": bool, "offset": x,
                  "scale": x, "rotate": bool}}, ...]
      Runs the book's transform-building loop verbatim, with random.random() replaced by the
      given draws; prints {"transforms": [[12 numbers], ...], "unused": [count, ...]} as JSON.
"""

import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F


def book_transform(augmentation_dict, draws):
    """p2ch12 dsets.py getCtAugmentedCandidate, the transform part, kept as the book writes it."""
    it = iter(draws)

    class FakeRandom:
        @staticmethod
        def random():
            return next(it)

    random = FakeRandom
    transform_t = torch.eye(4)

    for i in range(3):
        if 'flip' in augmentation_dict:
            if random.random() > 0.5:
                transform_t[i, i] *= -1

        if 'offset' in augmentation_dict:
            offset_float = augmentation_dict['offset']
            random_float = (random.random() * 2 - 1)
            transform_t[i, 3] = offset_float * random_float

        if 'scale' in augmentation_dict:
            scale_float = augmentation_dict['scale']
            random_float = (random.random() * 2 - 1)
            transform_t[i, i] *= 1.0 + scale_float * random_float

    if 'rotate' in augmentation_dict:
        angle_rad = random.random() * math.pi * 2
        s = math.sin(angle_rad)
        c = math.cos(angle_rad)

        rotation_t = torch.tensor([
            [c, -s, 0, 0],
            [s, c, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
        ])

        transform_t @= rotation_t

    return transform_t[:3], sum(1 for _ in it)


def book_dict(aug):
    # The lab's config switches a part off with false / 0; the book leaves the key out.
    d = {}
    if aug.get('flip'):
        d['flip'] = True
    if aug.get('offset'):
        d['offset'] = aug['offset']
    if aug.get('scale'):
        d['scale'] = aug['scale']
    if aug.get('rotate'):
        d['rotate'] = True
    return d


def resample(spec):
    d, h, w = spec['shape']
    dtype = {'float32': torch.float32, 'float64': torch.float64}[spec.get('dtype', 'float32')]
    crop = np.fromfile(spec['input'], dtype='<f4').reshape(d, h, w)
    ct_t = torch.from_numpy(crop.copy()).unsqueeze(0).unsqueeze(0).to(dtype)
    outs = []
    for m in spec['matrices']:
        theta = torch.tensor(m, dtype=torch.float64).reshape(1, 3, 4).to(dtype)
        grid = F.affine_grid(theta, list(ct_t.size()), align_corners=False)
        out = F.grid_sample(ct_t, grid, mode='bilinear', padding_mode='border', align_corners=False)
        outs.append(out[0, 0].to(torch.float64).numpy())
    np.stack(outs).astype('<f8').tofile(spec['output'])


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    result = {}
    if 'resample' in spec:
        resample(spec['resample'])
        result['resampled'] = len(spec['resample']['matrices'])
    if 'transforms' in spec:
        mats, unused = [], []
        for t in spec['transforms']:
            m, left = book_transform(book_dict(t['aug']), t['draws'])
            mats.append([float(v) for v in m.reshape(-1).tolist()])
            unused.append(left)
        result['transforms'] = mats
        result['unused'] = unused
    result['torch'] = torch.__version__
    json.dump(result, sys.stdout)


if __name__ == '__main__':
    main()
