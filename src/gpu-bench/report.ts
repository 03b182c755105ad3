/**
 * The GPU bench's result: one JSON document (`GpuBenchResult`) and its Markdown rendering.
 *
 * Promise: `markdown` is pure (the result in, text out); it names the adapter and says plainly
 * when it is a software one (SwiftShader: no GPU was measured), and puts the lab's kernels, stock
 * tfjs and PyTorch side by side with the ratio to PyTorch fp32 eager where both were measured.
 */
import type { DawnStatus } from './dawn.ts';
import type { Measurements } from './measure.ts';

export interface PytorchRow {
  batch: number;
  amp: boolean;
  channels_last: boolean;
  compiled?: boolean;
  train_samples_per_s: number;
  infer_samples_per_s: number;
  device?: string;
}

export interface PytorchResult {
  /** 'cuda' or 'cpu'. */
  device: string;
  deviceName: string;
  torch: string;
  threads?: number;
  rows: PytorchRow[];
  /** The reference script the rows came from (its bench() on CUDA; its model on CPU). */
  reference: string;
  error?: string;
}

export interface GpuBenchResult {
  kind: 'luna-lab gpu-bench';
  version: 1;
  measuredAt: string;
  quick: boolean;
  host: { node: string; platform: string; cpu: string; cores: number; memGiB: number };
  vulkanIcd: string | null;
  adapter: DawnStatus;
  /** Features the WebGPU device was made with (of shader-f16, subgroups). */
  deviceFeatures: string[];
  options: Record<string, unknown>;
  measurements: Measurements | null;
  pytorch: PytorchResult | null;
  /** Added by the device entry script: nvidia-smi samples while the bench ran. */
  gpuUtilisation?: { samples: number; meanPercent: number; maxPercent: number; maxMemoryMiB: number } | null;
  seconds: number;
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const g = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–');

export function markdown(r: GpuBenchResult): string {
  const out: string[] = [];
  const a = r.adapter;
  out.push(`# Luna Lab GPU bench (Node on Dawn)${r.quick ? ' — quick' : ''}`, '');
  if (!a.available) {
    out.push(`**No WebGPU adapter**: ${a.reason}`, '');
  } else if (a.software) {
    out.push(
      `**Software adapter: ${a.description}** — SwiftShader Vulkan on the CPU (no GPU). These figures are a dry run of the bench, not GPU figures.`,
      '',
    );
  } else {
    out.push(`Adapter: **${a.description}**`, '');
  }
  out.push(
    `- measured ${r.measuredAt} in ${f(r.seconds, 0)} s; Node ${r.host.node} on ${r.host.platform}, ${r.host.cpu} × ${r.host.cores} cores, ${r.host.memGiB} GiB`,
    `- Vulkan ICD: ${r.vulkanIcd ?? "unset (the loader's default search)"}`,
  );
  if (a.available) {
    out.push(
      `- adapter vendor / architecture / device: ${a.vendor || '–'} / ${a.architecture || '–'} / ${a.device || '–'}`,
    );
    out.push(
      `- device features asked and granted: ${r.deviceFeatures.join(', ') || 'none'} (adapter offers: ${a.features.join(', ')})`,
    );
    const L = a.limits;
    out.push(
      `- limits: maxComputeInvocationsPerWorkgroup ${L.maxComputeInvocationsPerWorkgroup}, maxComputeWorkgroupSizeX ${L.maxComputeWorkgroupSizeX}, maxComputeWorkgroupStorageSize ${L.maxComputeWorkgroupStorageSize}, maxStorageBufferBindingSize ${L.maxStorageBufferBindingSize}, maxBufferSize ${L.maxBufferSize}, maxComputeWorkgroupsPerDimension ${L.maxComputeWorkgroupsPerDimension}`,
    );
  }
  if (r.gpuUtilisation) {
    const u = r.gpuUtilisation;
    out.push(
      `- GPU utilisation (nvidia-smi, ${u.samples} samples while the bench ran): mean ${f(u.meanPercent)} %, max ${f(u.maxPercent, 0)} %, max memory ${u.maxMemoryMiB} MiB`,
    );
  }
  out.push('');
  const m = r.measurements;
  const pt = r.pytorch;
  const ptRow = (batch: number, amp = false) => pt?.rows.find((p) => p.batch === batch && p.amp === amp && !p.compiled);
  if (m?.training.length) {
    out.push('## Training: samples/s of full LunaModel steps (32×48×48 crops)', '');
    out.push(
      '| batch | kernels (+features) | samples/s | implied GFLOP/s | ratio to PyTorch fp32 eager | steps measured | step times (s, warm-up first) |',
      '|---|---|---|---|---|---|---|',
    );
    for (const t of m.training) {
      const p = ptRow(t.batch);
      out.push(
        `| ${t.batch} | ${t.variant} | **${g(t.samplesPerSecond)}** | ${g(t.gflops)} | ${p ? `${(t.samplesPerSecond / p.train_samples_per_s).toFixed(3)}×` : '–'} | ${t.stepSeconds.length - t.warmup} | ${t.stepSeconds.map((s) => s.toFixed(2)).join(', ')} |`,
      );
    }
    out.push(
      '',
      "The lab's real step (NoduleClassificationModel.doTraining: forward, cross-entropy, tfjs gradients, the lab's SGD) on random HU-like crops; implied GFLOP/s = 3 × the forward convolutions' FLOPs per sample × samples/s.",
      '',
    );
  }
  if (m?.inference.length) {
    out.push(
      '## Inference: samples/s (predict + softmax)',
      '',
      '| batch | kernels (+features) | samples/s | ratio to PyTorch fp32 eager | batches |',
      '|---|---|---|---|---|',
    );
    for (const t of m.inference) {
      const p = ptRow(t.batch);
      out.push(
        `| ${t.batch} | ${t.variant} | **${g(t.samplesPerSecond)}** | ${p ? `${(t.samplesPerSecond / p.infer_samples_per_s).toFixed(3)}×` : '–'} | ${t.batches} |`,
      );
    }
    out.push('');
  }
  if (pt) {
    out.push(
      `## PyTorch reference (same run): ${pt.device} — ${pt.deviceName}, torch ${pt.torch}${pt.threads ? `, ${pt.threads} threads` : ''}`,
      '',
    );
    if (pt.error) out.push(`PyTorch failed: ${pt.error}`, '');
    if (pt.rows.length) {
      out.push(
        '| batch | bf16 autocast | channels-last | train samples/s | infer samples/s |',
        '|---|---|---|---|---|',
      );
      for (const p of pt.rows)
        out.push(
          `| ${p.batch} | ${p.amp ? 'yes' : 'no'} | ${p.channels_last ? 'yes' : 'no'} | **${g(p.train_samples_per_s)}** | ${g(p.infer_samples_per_s)} |`,
        );
      out.push('', `From ${pt.reference}.`, '');
    }
  }
  if (m?.kernels.length) {
    out.push(`## Per kernel: ms (median), batch ${m.kernels[0].shape.split('×')[0]}`, '');
    const vs = [...new Set(m.kernels.map((k) => k.variant))];
    out.push(
      `| layer | op | shape | ${vs.join(' | ')} | best lab GFLOP/s |`,
      `|---|---|---|${vs.map(() => '---|').join('')}---|`,
    );
    const keys = [...new Set(m.kernels.map((k) => `${k.layer}|${k.op}|${k.shape}`))];
    for (const key of keys) {
      const rows = m.kernels.filter((k) => `${k.layer}|${k.op}|${k.shape}` === key);
      const [layer, op, shape] = key.split('|');
      const cell = (v: string) => {
        const k = rows.find((x) => x.variant === v);
        return k ? f(k.medianMs, k.medianMs < 10 ? 2 : 1) : '–';
      };
      const best = Math.max(
        ...rows.filter((x) => x.variant.startsWith('lab') && x.gflops !== null).map((x) => x.gflops!),
      );
      out.push(
        `| ${layer} | ${op} | ${shape} | ${vs.map(cell).join(' | ')} | ${Number.isFinite(best) ? g(best) : '–'} |`,
      );
    }
    out.push(
      '',
      'Each time includes the readback of the output (`await y.data()`), after one untimed run that compiles.',
      '',
    );
  }
  if (m?.augment?.length) {
    out.push(
      "## Augmentation: crops/s (the book's settings, 32×48×48)",
      '',
      '| path | batch | crops/s | batches |',
      '|---|---|---|---|',
    );
    for (const a of m.augment) out.push(`| ${a.path} | ${a.batch} | **${g(a.cropsPerSecond)}** | ${a.batches} |`);
    out.push(
      '',
      "cpu: augmentBatch in one thread (one data worker's work); gpu: the raw batch uploaded and augmented by the kernel of `augment.device = gpu`, to the end of the GPU work.",
      '',
    );
  }
  if (m?.profile) {
    out.push(
      `## One lab training step at batch ${m.profile.batch}, by kernel (tf.profile)`,
      '',
      '| kernel | ms | calls |',
      '|---|---|---|',
    );
    for (const k of m.profile.kernels.slice(0, 15)) out.push(`| ${k.name} | ${f(k.ms, 1)} | ${k.n} |`);
    out.push('');
  }
  const errors = m?.errors ?? [];
  if (errors.length) out.push('## Errors', '', ...errors.map((e) => `- ${e}`), '');
  return out.join('\n');
}
