"""Independent reference for the lab's malignancy sampling (src/data/malignancy.ts, sampler.ts),
written from the book's p2ch14 dsets.py rules with the standard library only:

- getCandidateInfoList: every row of annotations_with_malignancy.csv is a nodule
  (isNodule, hasAnnotation, isMal from {'False': False, 'True': True}[mal_bool], its diameter,
  at the annotation's centre); every class-0 row of candidates.csv is a not-nodule
  (False, False, False, 0.0); class-1 candidates are dropped; the list is sort(reverse=True).
- LunaDataset's series split: sorted(set(series_uid)); validation = series_list[::val_stride],
  training = the rest (del series_list[::val_stride]).
- neg_list / ben_list / mal_list in list order; the unbalanced validation set is
  ben_list + mal_list (MalignantLunaDataset.__getitem__ with ratio_int == 0), label isMal.
- The seed's three-way ratio m:b:n as the lab states it: sample ndx lies in cycle
  ndx // (m+b+n); its first m positions are malignant, the next b benign, the last n not-nodules,
  each list indexed by cycle * share + position, modulo its length (the book's
  __getitem__ arithmetic with three lists); its label is the picked tuple's isMal.

Usage: python malignancy_reference.py MALIGNANCY.csv CANDIDATES.csv VAL_STRIDE M,B,N EPOCH OUT.json
OUT: {"list": [[isNodule, hasAnnotation, isMal, diameter, uid, x, y, z]],
      "train": {"malignant": int, "benign": int, "notNodule": int},
      "validation": [[uid, x, y, z, label]], "epoch": [[class, index, label]]}
"""
import csv
import json
import sys
from collections import namedtuple

CandidateInfoTuple = namedtuple(
    'CandidateInfoTuple', 'isNodule_bool, hasAnnotation_bool, isMal_bool, diameter_mm, series_uid, center_xyz'
)


def candidate_info_list(malignancy_csv, candidates_csv):
    out = []
    with open(malignancy_csv, 'r') as f:
        for row in list(csv.reader(f))[1:]:
            xyz = tuple(float(x) for x in row[1:4])
            is_mal = {'False': False, 'True': True}[row[5]]
            out.append(CandidateInfoTuple(True, True, is_mal, float(row[4]), row[0], xyz))
    with open(candidates_csv, 'r') as f:
        for row in list(csv.reader(f))[1:]:
            if not bool(int(row[4])):
                out.append(CandidateInfoTuple(False, False, False, 0.0, row[0], tuple(float(x) for x in row[1:4])))
    out.sort(reverse=True)
    return out


def main():
    mal_csv, cand_csv, stride, ratio, epoch_len, out_path = sys.argv[1:7]
    stride = int(stride)
    m, b, n = (int(v) for v in ratio.split(','))
    epoch_len = int(epoch_len)
    full = candidate_info_list(mal_csv, cand_csv)

    series_list = sorted(set(c.series_uid for c in full))
    val_series = set(series_list[::stride])
    train = [c for c in full if c.series_uid not in val_series]
    val = [c for c in full if c.series_uid in val_series]

    def lists(cands):
        neg = [c for c in cands if not c.isNodule_bool]
        pos = [c for c in cands if c.isNodule_bool]
        return neg, [c for c in pos if not c.isMal_bool], [c for c in pos if c.isMal_bool]

    neg, ben, mal = lists(train)
    _, val_ben, val_mal = lists(val)

    epoch = []
    for ndx in range(epoch_len):
        cycle, r = divmod(ndx, m + b + n)
        if r < m:
            cls, lst, i = 'malignant', mal, cycle * m + r
        elif r < m + b:
            cls, lst, i = 'benign', ben, cycle * b + r - m
        else:
            cls, lst, i = 'notNodule', neg, cycle * n + r - m - b
        i %= len(lst)
        epoch.append([cls, i, int(lst[i].isMal_bool)])

    result = {
        'list': [
            [c.isNodule_bool, c.hasAnnotation_bool, c.isMal_bool, c.diameter_mm, c.series_uid, *c.center_xyz] for c in full
        ],
        'train': {'malignant': len(mal), 'benign': len(ben), 'notNodule': len(neg)},
        'validation': [[c.series_uid, *c.center_xyz, int(c.isMal_bool)] for c in val_ben + val_mal],
        'epoch': epoch,
    }
    with open(out_path, 'w') as f:
        json.dump(result, f)


if __name__ == '__main__':
    main()
