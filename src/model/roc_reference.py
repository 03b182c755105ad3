"""scikit-learn's ROC as the reference for src/model/roc.ts: roc_auc_score and roc_curve
(drop_intermediate=False, so every distinct threshold is a point) on the same labels and scores.

Usage: python roc_reference.py IN.json OUT.json
IN:  {"cases": [{"labels": [0|1], "scores": [float]}]}
OUT: {"cases": [{"auc": float, "fpr": [...], "tpr": [...]}]}
"""
import json
import sys

from sklearn.metrics import roc_auc_score, roc_curve


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)['cases']
    out = []
    for c in cases:
        fpr, tpr, _ = roc_curve(c['labels'], c['scores'], drop_intermediate=False)
        out.append({'auc': float(roc_auc_score(c['labels'], c['scores'])), 'fpr': fpr.tolist(), 'tpr': tpr.tolist()})
    with open(sys.argv[2], 'w') as f:
        json.dump({'cases': out}, f)


if __name__ == '__main__':
    main()
