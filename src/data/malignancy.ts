/**
 * The malignancy task (the book's p2ch14, the seed's `train_luna_malignant_classification`):
 * which candidates it uses and how a training epoch draws them.
 *
 * The book's p2ch14 `getCandidateInfoList`: every row of `annotations_with_malignancy.csv` is a
 * nodule, at the annotation's own centre, with its diameter and `mal_bool`; every class-0 row of
 * the candidate table is a not-nodule (diameter 0, not malignant); class-1 candidates are left
 * out (the annotations stand for them). The list is sorted like Python's `sorted(tuples,
 * reverse=True)` on (isNodule, hasAnnotation, isMal, diameter, seriesUid, xyz), hasAnnotation
 * being isNodule here.
 *
 * Training is malignant (label 1) vs the rest (benign nodules and not-nodules, label 0), drawn
 * with the seed's three-way ratio malignant : benign : not-nodule (default 1:5:10): an epoch is
 * cycles of m + b + n samples, the first m malignant, the next b benign, the last n not-nodules,
 * each list walked in its (per-epoch shuffled) order and wrapped when used up — the book's
 * `__getitem__` index arithmetic, with three lists instead of two. Validation is the book's
 * unbalanced `MalignantLunaDataset`: the validation half's nodules only (benign and malignant),
 * whose ROC the diameter baseline is compared with.
 */
import type { Candidate, CandidateInfo, MalignancyAnnotation } from './luna-csv.ts';

/** Which of the three lists a training sample comes from. */
export type MalignancyClass = 'malignant' | 'benign' | 'notNodule';

export function malignancyClassOf(c: CandidateInfo): MalignancyClass {
  if (!c.isNodule) return 'notNodule';
  return c.malignant ? 'malignant' : 'benign';
}

/** The book's p2ch14 candidate list (see the header): nodules from the malignancy table, not-nodules from the candidates. */
export function malignancyCandidates(
  candidates: readonly Candidate[],
  malignancy: readonly MalignancyAnnotation[],
): CandidateInfo[] {
  const out: CandidateInfo[] = malignancy.map((a) => ({
    seriesUid: a.seriesUid,
    xyz: [a.xyz[0], a.xyz[1], a.xyz[2]],
    isNodule: true,
    diameterMm: a.diameterMm,
    malignant: a.malignant,
  }));
  for (const c of candidates) {
    if (c.isNodule) continue;
    out.push({
      seriesUid: c.seriesUid,
      xyz: [c.xyz[0], c.xyz[1], c.xyz[2]],
      isNodule: false,
      diameterMm: 0,
      malignant: false,
    });
  }
  return out.sort(compareMalignancyDesc);
}

/** Python's reverse tuple order on (isNodule, hasAnnotation = isNodule, isMal, diameter, seriesUid, xyz). */
function compareMalignancyDesc(a: CandidateInfo, b: CandidateInfo): number {
  if (a.isNodule !== b.isNodule) return a.isNodule ? -1 : 1;
  if (Boolean(a.malignant) !== Boolean(b.malignant)) return a.malignant ? -1 : 1;
  if (a.diameterMm !== b.diameterMm) return b.diameterMm - a.diameterMm;
  if (a.seriesUid !== b.seriesUid) return a.seriesUid < b.seriesUid ? 1 : -1;
  for (let k = 0; k < 3; k++) if (a.xyz[k] !== b.xyz[k]) return b.xyz[k] - a.xyz[k];
  return 0;
}

export type MalignancyRatio = readonly [malignant: number, benign: number, notNodule: number];

/**
 * Sample `ndx` of an epoch under ratio m:b:n: its class and its index in that class's list
 * (of `sizes` = [malignant, benign, notNodule] lengths). Cycle c = ⌊ndx / (m+b+n)⌋ takes
 * malignant c·m … c·m+m−1, then benign c·b …, then not-nodules c·n …, each modulo its list.
 */
export function malignancyPick(
  ndx: number,
  ratio: MalignancyRatio,
  sizes: readonly [number, number, number],
): { cls: MalignancyClass; index: number } {
  const [m, b, n] = ratio;
  const cycle = Math.floor(ndx / (m + b + n));
  const r = ndx % (m + b + n);
  if (r < m) return { cls: 'malignant', index: (cycle * m + r) % sizes[0] };
  if (r < m + b) return { cls: 'benign', index: (cycle * b + r - m) % sizes[1] };
  return { cls: 'notNodule', index: (cycle * n + r - m - b) % sizes[2] };
}

/** Why a ratio cannot sample these lists (a class it asks for has none), or null when it can. */
export function malignancyRatioProblem(
  ratio: MalignancyRatio,
  sizes: readonly [number, number, number],
): string | null {
  const [m, b, n] = ratio;
  const what = `sampling.malignancyRatio ${ratio.join(':')}`;
  if (m === 0) return `${what}: the malignant share must be at least 1 (the task trains malignant vs the rest)`;
  if (b + n === 0) return `${what}: needs benign or not-nodule samples (a share > 0) to train against`;
  const names = ['malignant nodules', 'benign nodules', 'not-nodule candidates'] as const;
  const missing = names.filter((_, i) => ratio[i] > 0 && sizes[i] === 0);
  if (missing.length === 0) return null;
  return (
    `${what} asks for ${missing.join(' and ')}, but the training set has none ` +
    `(${sizes[0]} malignant, ${sizes[1]} benign, ${sizes[2]} not-nodule; is annotations_with_malignancy.csv cached?)`
  );
}
