/**
 * TensorBoard event files (`events.out.tfevents.*`), written without TensorFlow: a TFRecord
 * stream of `Event` protos. The first event carries `file_version: "brain.Event:2"` (TensorBoard
 * then purges orphaned data only on a session restart, never on a step that goes back), and each
 * scalar is one event with `summary.value[{tag, simple_value}]`, the classic form that
 * TensorBoard's data_compat migrates into its scalars plugin.
 *
 * Pure: no Node imports, so the browser can build the same bytes. The caller owns the file: write
 * `drain()` (or `bytes()`) once, then append each later `drain()` as records arrive.
 *
 * Wire formats (checked against tensorboard's compat/proto in the venv, which mirrors TensorFlow's
 * event.proto and summary.proto; src/tracking/tfevents.test.ts reads the files back with
 * tensorboard's own reader):
 * - Event: wall_time=1 double, step=2 int64, file_version=3 string, summary=5 Summary.
 * - Summary: repeated Value value=1; Value: tag=1 string, simple_value=2 float, histo=5
 *   HistogramProto, tensor=8 TensorProto, metadata=9 SummaryMetadata (plugin_data=1 {plugin_name=1,
 *   content=2 bytes}); HistogramProto: min..sum_squares=1..5 double, bucket_limit=6, bucket=7
 *   repeated double; TensorProto: dtype=1, tensor_shape=2 {dim=2 {size=1}}, tensor_content=4.
 * - TFRecord: uint64 LE length, masked CRC32C(length bytes), data, masked CRC32C(data).
 */
import { crc32c } from '@aws-crypto/crc32c';
// The light build: reflection from a JSON descriptor, no .proto parser in the bundle.
import protobuf from 'protobufjs/light.js';
import type { MetricPoint } from '../store/records.ts';
import { histogramEdges, prCurve, type HistogramData } from '../model/curves.ts';

export const FILE_VERSION = 'brain.Event:2';

/** The subset of TensorFlow's Event/Summary that scalars need; names and numbers as upstream. */
const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          fields: {
            wall_time: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            file_version: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              fields: {
                tag: { type: 'string', id: 1 },
                simple_value: { type: 'float', id: 2 },
                histo: { type: 'HistogramProto', id: 5 },
                tensor: { type: 'TensorProto', id: 8 },
                metadata: { type: 'SummaryMetadata', id: 9 },
              },
            },
          },
        },
        SummaryMetadata: {
          fields: { plugin_data: { type: 'PluginData', id: 1 }, display_name: { type: 'string', id: 2 } },
          nested: {
            PluginData: { fields: { plugin_name: { type: 'string', id: 1 }, content: { type: 'bytes', id: 2 } } },
          },
        },
        HistogramProto: {
          fields: {
            min: { type: 'double', id: 1 },
            max: { type: 'double', id: 2 },
            num: { type: 'double', id: 3 },
            sum: { type: 'double', id: 4 },
            sum_squares: { type: 'double', id: 5 },
            bucket_limit: { rule: 'repeated', type: 'double', id: 6, options: { packed: true } },
            bucket: { rule: 'repeated', type: 'double', id: 7, options: { packed: true } },
          },
        },
        // dtype is the DataType enum on the wire (a varint): DT_FLOAT = 1.
        TensorProto: {
          fields: {
            dtype: { type: 'int32', id: 1 },
            tensor_shape: { type: 'TensorShapeProto', id: 2 },
            tensor_content: { type: 'bytes', id: 4 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 } },
          nested: { Dim: { fields: { size: { type: 'int64', id: 1 } } } },
        },
        // tensorboard/plugins/pr_curve/plugin_data.proto
        PrCurvePluginData: {
          fields: { version: { type: 'int32', id: 1 }, num_thresholds: { type: 'uint32', id: 2 } },
        },
      },
    },
  },
});
const EventType = root.lookupType('tensorboard.Event');
const PrCurvePluginDataType = root.lookupType('tensorboard.PrCurvePluginData');
const DT_FLOAT = 1;
export const PR_CURVES_PLUGIN = 'pr_curves';

/** One scalar point; `step` is what TensorBoard plots on x (the lab: training samples seen). */
export interface ScalarPoint {
  tag: string;
  /** Written as float32 as it is: NaN and ±Infinity included. */
  value: number;
  /** An int64 on the wire; any safe integer here (|step| ≤ 2^53 − 1). */
  step: number;
  /** Seconds since the epoch (fractions allowed), as TensorFlow writes it. */
  wallTimeSec: number;
}

/** TFRecord's masked CRC32C, so a CRC over data that holds CRCs does not collide with them. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 LE length, masked CRC of those 8 bytes, the data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** The record that opens every event file. */
export function fileVersionRecord(wallTimeSec: number): Uint8Array {
  checkWallTime(wallTimeSec);
  return tfRecord(EventType.encode(EventType.create({ wall_time: wallTimeSec, file_version: FILE_VERSION })).finish());
}

/** One summary value (a histogram, a tensor) at a step as one Event record. */
function valueRecord(tag: string, step: number, wallTimeSec: number, value: Record<string, unknown>): Uint8Array {
  if (typeof tag !== 'string' || tag === '')
    throw new Error(`tfevents: tag ${JSON.stringify(tag)} (expected a non-empty string)`);
  if (!Number.isSafeInteger(step)) throw new Error(`tfevents: step ${step} for ${tag} (expected a safe integer)`);
  checkWallTime(wallTimeSec);
  const event = EventType.create({ wall_time: wallTimeSec, step, summary: { value: [{ tag, ...value }] } });
  return tfRecord(EventType.encode(event).finish());
}

/**
 * A PR curve as the pr_curves plugin reads it (what torch's add_pr_curve writes): a float32
 * tensor of shape [6, thresholds] (rows TP, FP, TN, FN, precision, recall) with the plugin's
 * metadata `PrCurvePluginData{version: 0, num_thresholds}`.
 */
export function prCurveRecord(tag: string, rows: readonly (readonly number[])[], step: number, wallTimeSec: number) {
  const n = rows[0]?.length ?? 0;
  if (rows.length !== 6 || n < 2 || rows.some((r) => r.length !== n))
    throw new Error(`tfevents: PR curve ${tag}: expected 6 rows of equal length >= 2`);
  const data = new Float32Array(rows.flat());
  return valueRecord(tag, step, wallTimeSec, {
    metadata: {
      display_name: tag,
      plugin_data: {
        plugin_name: PR_CURVES_PLUGIN,
        content: PrCurvePluginDataType.encode({ version: 0, num_thresholds: n }).finish(),
      },
    },
    tensor: {
      dtype: DT_FLOAT,
      tensor_shape: { dim: [{ size: 6 }, { size: n }] },
      // Little-endian float32, as TensorFlow's tensor_content (every platform the lab runs on is LE).
      tensor_content: new Uint8Array(data.buffer),
    },
  });
}

/** A histogram in the classic form (`Summary.Value.histo`) that TensorBoard's data_compat
 *  migrates into its histograms plugin; `bucketLimit[i]` is bucket i's right edge. */
export function histogramRecord(
  tag: string,
  h: HistogramData,
  bucketLimit: readonly number[],
  step: number,
  wallTimeSec: number,
) {
  if (bucketLimit.length !== h.counts.length)
    throw new Error(`tfevents: histogram ${tag}: ${h.counts.length} buckets, ${bucketLimit.length} limits`);
  return valueRecord(tag, step, wallTimeSec, {
    histo: {
      min: h.min,
      max: h.max,
      num: h.num,
      sum: h.sum,
      sum_squares: h.sumSquares,
      bucket_limit: [...bucketLimit],
      bucket: [...h.counts],
    },
  });
}

/** One scalar as one Event record. */
export function scalarRecord(point: ScalarPoint): Uint8Array {
  const { tag, value, step, wallTimeSec } = point;
  if (typeof tag !== 'string' || tag === '')
    throw new Error(`tfevents: tag ${JSON.stringify(tag)} (expected a non-empty string)`);
  if (typeof value !== 'number') throw new Error(`tfevents: value ${String(value)} for ${tag} (expected a number)`);
  // protobufjs encodes int64 from a JS number exactly up to 2^53; beyond that the step would be rounded.
  if (!Number.isSafeInteger(step)) throw new Error(`tfevents: step ${step} for ${tag} (expected a safe integer)`);
  checkWallTime(wallTimeSec);
  const event = EventType.create({ wall_time: wallTimeSec, step, summary: { value: [{ tag, simple_value: value }] } });
  return tfRecord(EventType.encode(event).finish());
}

function checkWallTime(wallTimeSec: number): void {
  if (!Number.isFinite(wallTimeSec) || wallTimeSec < 0)
    throw new Error(`tfevents: wall time ${wallTimeSec} s (expected finite seconds since the epoch)`);
}

/**
 * `events.out.tfevents.<seconds, 10 digits>.<host>`, as TensorFlow names them (`%010lld`);
 * TensorBoard picks up any file whose name contains `tfevents`.
 */
export function eventFileName(wallTimeSec: number, host: string): string {
  checkWallTime(wallTimeSec);
  if (host === '' || /[/\\]/.test(host))
    throw new Error(`tfevents: host ${JSON.stringify(host)} (expected a non-empty name without path separators)`);
  return `events.out.tfevents.${String(Math.floor(wallTimeSec)).padStart(10, '0')}.${host}`;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * One event file in memory. `bytes()` is the whole file so far; `drain()` the records not yet
 * drained (the first drain starts with the file_version record), for appending to a file.
 */
export class EventFileWriter {
  /** Seconds since the epoch the file was opened at: the header's wall_time and the default for scalars. */
  readonly wallTimeSec: number;
  private readonly _records: Uint8Array[];
  private _drained = 0;

  constructor(wallTimeSec: number) {
    this.wallTimeSec = wallTimeSec;
    this._records = [fileVersionRecord(wallTimeSec)];
  }

  scalar(tag: string, value: number, step: number, wallTimeSec: number = this.wallTimeSec): void {
    this._records.push(scalarRecord({ tag, value, step, wallTimeSec }));
  }

  prCurve(tag: string, rows: readonly (readonly number[])[], step: number, wallTimeSec = this.wallTimeSec): void {
    this._records.push(prCurveRecord(tag, rows, step, wallTimeSec));
  }

  histogram(
    tag: string,
    h: HistogramData,
    bucketLimit: readonly number[],
    step: number,
    wallTimeSec = this.wallTimeSec,
  ) {
    this._records.push(histogramRecord(tag, h, bucketLimit, step, wallTimeSec));
  }

  bytes(): Uint8Array {
    return concat(this._records);
  }

  drain(): Uint8Array {
    const out = concat(this._records.slice(this._drained));
    this._drained = this._records.length;
    return out;
  }
}

/**
 * The lab's metric points as scalars: each key is already the tag (`training/loss/all`,
 * `validating/pr/f1_score`, `system/…`), step = training samples seen. A point with curves adds
 * what the seed writes per phase: the PR curve `<mode>/pr` and the histograms `<mode>/is_neg`
 * and `<mode>/is_pos` (the seed's trn/val writers become the tags' `training/` / `validating/`).
 */
export function writeMetricPoints(
  writer: EventFileWriter,
  points: readonly MetricPoint[],
  wallTimeSec: number = writer.wallTimeSec,
): void {
  // Right edges of the seed's bins k/50, k = 1..50.
  const limits = histogramEdges().slice(1);
  for (const p of points) {
    for (const [tag, value] of Object.entries(p.values)) writer.scalar(tag, value, p.step, wallTimeSec);
    const c = p.curves;
    if (!c) continue;
    writer.prCurve(`${c.mode}/pr`, prCurve(c.prBuckets), p.step, wallTimeSec);
    if (c.isNeg) writer.histogram(`${c.mode}/is_neg`, c.isNeg, limits, p.step, wallTimeSec);
    if (c.isPos) writer.histogram(`${c.mode}/is_pos`, c.isPos, limits, p.step, wallTimeSec);
  }
}
