"""Independent FROC/CPM reference for the lab's FROC tests, written after the rules of LUNA16's
noduleCADEvaluationLUNA16.py (evaluateCAD, computeFROC, computeFROC_bootstrap) with NumPy only:
the per-scan limit on CAD marks, the candidate loop per finding (included nodules first, then
excluded findings, whose marks are dropped), the best hit per nodule, misses as positives left
out of the ROC, the ROC by thresholds (as sklearn.metrics.roc_curve), the script's rescaling and
its no-false-positive border case, np.interp at the seven FP rates, and the bootstrap over scans
with the script's mean and confidence indices.

Where the script is degenerate it is followed: no detection gives NaN sensitivities.

Usage: python froc_reference.py IN.json OUT.json
IN:  {"scans": [uid], "nodules": [[uid, x, y, z, d]], "candidates": [[uid, x, y, z, p]],
      "excluded": [[uid, x, y, z, d]] (optional), "maxMarks": int (optional, default 100; <= 0: none),
      "draws": [[scan index]] (optional: the bootstrap's scans, one list per sample)}
OUT: {"fps": [...], "sens": [...], "sensitivities": [7], "cpm": float, "detected": int, "fp": int,
      "excludedMarks": int, "overLimit": int, "duplicateHits": int,
      "band": null | {"mean": [7], "lower": [7], "upper": [7], "cpm": [mean, lower, upper]}}
"""
import json
import math
import sys

import numpy as np

FIXED_FPS = [0.125, 0.25, 0.5, 1, 2, 4, 8]
MIN_PROB = -1000000000.0  # the script's stand-in probability for a missed nodule


def roc_curve(gt, prob):
    """sklearn.metrics.roc_curve without drop_intermediate (dropping collinear points does not
    change np.interp): one point per distinct threshold, descending, plus (0, 0)."""
    order = np.argsort(-prob, kind="mergesort")
    gt, prob = gt[order], prob[order]
    last = np.r_[np.where(np.diff(prob))[0], gt.size - 1].astype(int)
    tps = np.cumsum(gt)[last] if gt.size else np.zeros(0)
    fps = (1 + last) - tps
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        return fps / fps[-1], tps / tps[-1]


def radius2(d):
    d = float(d)
    if d < 0:
        d = 10.0
    return (d / 2.0) ** 2


def compute_froc(gt, prob, n_scans, excl):
    """computeFROC: misses (excl) stay in the lesion count, out of the ROC."""
    gt, prob, excl = np.asarray(gt, float), np.asarray(prob, float), np.asarray(excl, bool)
    gt_l, prob_l = gt[~excl], prob[~excl]
    detected = gt_l.sum()
    total = gt.sum()
    fpr, tpr = roc_curve(gt_l, prob_l)
    if gt.sum() == len(gt):  # no false positives at all
        fps = np.zeros(len(fpr))
    else:
        fps = fpr * (len(prob_l) - detected) / n_scans
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = (tpr * detected) / total
    return fps, sens


def mean_ci(v, confidence=0.95):
    v = np.sort(np.asarray(v, float))
    pz = (1.0 - confidence) / 2.0
    return float(np.average(v)), float(v[int(math.floor(pz * len(v)))]), float(v[int(math.floor((1.0 - pz) * len(v)))])


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)
    scans = list(dict.fromkeys(d["scans"]))
    max_marks = d.get("maxMarks", 100)
    excluded = d.get("excluded", [])
    gt_list, prob_list, excl_list, scan_list = [], [], [], []
    excluded_marks = over_limit = duplicates = 0
    by_uid = {"candidates": {}, "nodules": {}, "excluded": {}}
    for key, rows in (("candidates", d["candidates"]), ("nodules", d["nodules"]), ("excluded", excluded)):
        for r in rows:
            by_uid[key].setdefault(r[0], []).append(r)
    for s, uid in enumerate(scans):
        cands = by_uid["candidates"].get(uid, [])
        if max_marks > 0 and len(cands) > max_marks:
            probs = sorted((float(c[4]) for c in cands), reverse=True)
            cut = probs[max_marks]
            kept = [c for c in cands if float(c[4]) > cut]
            over_limit += len(cands) - len(kept)
            cands = kept
        xyz = np.array([c[1:4] for c in cands], dtype=np.float64).reshape(-1, 3)
        p = np.array([c[4] for c in cands], dtype=np.float64)
        remaining = np.ones(len(cands), dtype=bool)
        for n in by_uid["nodules"].get(uid, []):
            hit = ((xyz - np.array(n[1:4], dtype=np.float64)) ** 2).sum(axis=1) < radius2(n[4])
            remaining &= ~hit
            duplicates += max(int(hit.sum()) - 1, 0)
            gt_list.append(1.0)
            prob_list.append(p[hit].max() if hit.any() else MIN_PROB)
            excl_list.append(not hit.any())
            scan_list.append(s)
        for e in by_uid["excluded"].get(uid, []):
            hit = ((xyz - np.array(e[1:4], dtype=np.float64)) ** 2).sum(axis=1) < radius2(e[4])
            excluded_marks += int((hit & remaining).sum())
            remaining &= ~hit
        for q in p[remaining]:
            gt_list.append(0.0)
            prob_list.append(q)
            excl_list.append(False)
            scan_list.append(s)
    gt, prob, excl, scan_of = np.array(gt_list), np.array(prob_list), np.array(excl_list, bool), np.array(scan_list, int)
    fps, sens = compute_froc(gt, prob, len(scans), excl)
    s7 = np.interp(FIXED_FPS, fps, sens)
    band = None
    if d.get("draws"):
        per_rate, cpms = [], []
        of_scan = [np.where(scan_of == k)[0] for k in range(len(scans))]
        for draw in d["draws"]:
            pick = np.concatenate([of_scan[k] for k in draw])
            bf, bs = compute_froc(gt[pick], prob[pick], len(scans), excl[pick])
            v = np.interp(FIXED_FPS, bf, bs)
            per_rate.append(v)
            cpms.append(np.mean(v))
        per_rate = np.array(per_rate)
        stats = [mean_ci(per_rate[:, i]) for i in range(len(FIXED_FPS))]
        band = {"mean": [s[0] for s in stats], "lower": [s[1] for s in stats], "upper": [s[2] for s in stats],
                "cpm": list(mean_ci(cpms))}
    detected = int(gt[~excl].sum())
    with open(sys.argv[2], "w") as f:
        json.dump({"fps": fps.tolist(), "sens": [None if math.isnan(x) else x for x in sens.tolist()],
                   "sensitivities": [None if math.isnan(x) else x for x in s7.tolist()],
                   "cpm": None if math.isnan(float(np.mean(s7))) else float(np.mean(s7)),
                   "detected": detected, "fp": int((gt == 0).sum()), "excludedMarks": excluded_marks,
                   "overLimit": over_limit, "duplicateHits": duplicates, "band": band}, f)


if __name__ == "__main__":
    main()
