"""Independent FROC/CPM reference for src/eval/froc.test.ts, written after LUNA16's
noduleCADEvaluationLUNA16.py (evaluateCAD + computeFROC) with NumPy only: the candidate loop per
nodule, the best hit per nodule, the ROC by thresholds (as sklearn.metrics.roc_curve), the
script's rescaling, np.interp at the seven FP rates.

Usage: python froc_reference.py IN.json OUT.json
IN:  {"scans": [uid], "nodules": [[uid, x, y, z, d]], "candidates": [[uid, x, y, z, p]]}
OUT: {"fps": [...], "sens": [...], "sensitivities": [7 floats], "cpm": float, "detected": int, "fp": int}
"""
import json
import sys

import numpy as np

FIXED_FPS = [0.125, 0.25, 0.5, 1, 2, 4, 8]


def roc_curve(gt, prob):
    """sklearn.metrics.roc_curve without drop_intermediate (dropping collinear points does not
    change np.interp): one point per distinct threshold, descending, plus (0, 0)."""
    order = np.argsort(-prob, kind="mergesort")
    gt, prob = gt[order], prob[order]
    last = np.r_[np.where(np.diff(prob))[0], gt.size - 1]
    tps = np.cumsum(gt)[last]
    fps = (1 + last) - tps
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        return fps / fps[-1], tps / tps[-1]


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)
    gt_list, prob_list = [], []
    total_nodules = 0
    for uid in d["scans"]:
        cands = np.array([c[1:] for c in d["candidates"] if c[0] == uid], dtype=np.float64).reshape(-1, 4)
        remaining = np.ones(len(cands), dtype=bool)
        for n in (n for n in d["nodules"] if n[0] == uid):
            total_nodules += 1
            dist2 = ((cands[:, :3] - np.array(n[1:4])) ** 2).sum(axis=1)
            hit = dist2 < (n[4] / 2.0) ** 2
            remaining &= ~hit
            if hit.any():
                gt_list.append(1.0)
                prob_list.append(cands[hit, 3].max())
        for p in cands[remaining, 3]:
            gt_list.append(0.0)
            prob_list.append(p)
    gt, prob = np.array(gt_list), np.array(prob_list)
    detected, negatives = gt.sum(), (gt == 0).sum()
    fpr, tpr = roc_curve(gt, prob)
    fps = np.zeros(len(fpr)) if negatives == 0 else fpr * (len(prob) - detected) / len(d["scans"])
    sens = tpr * detected / total_nodules
    s = np.interp(FIXED_FPS, fps, sens)
    with open(sys.argv[2], "w") as f:
        json.dump({"fps": fps.tolist(), "sens": sens.tolist(), "sensitivities": s.tolist(), "cpm": float(np.mean(s)),
                   "detected": int(detected), "fp": int(negatives)}, f)


if __name__ == "__main__":
    main()
