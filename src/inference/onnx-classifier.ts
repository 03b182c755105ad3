/**
 * A nodule classifier backed by onnxruntime-web: opens an ONNX model with LunaModel's signature
 * (see onnx-signature.ts), on the WebGPU execution provider when asked and available, else on
 * WASM, and predicts p(nodule) for batches of crops of clamped HU laid out [N, 1, D, H, W] —
 * the same bytes the lab's tfjs model gets as [N, D, H, W, 1] (one channel).
 *
 * Promise: `OnnxClassifier.open` resolves with the provider that actually runs the model (it has
 * run one crop on it) and why any preferred one was not used: 'webgpu' (every node on WebGPU), 'webgpu+wasm' (ORT put
 * some nodes on its CPU provider), or 'wasm'. A wrong model throws `OnnxSignatureError` before
 * a session is made. Runs in the browser (page or worker) and in Node (wasm only), with the
 * `onnxruntime-web` build the environment resolves; where ORT finds its .wasm is the caller's
 * business (`ort.env.wasm.wasmPaths`, set by the inference worker for Vite).
 */
import * as ort from 'onnxruntime-web';
import { positiveProbabilities, readClassifierSignature, type ClassifierSignature } from './onnx-signature.ts';

export type PreferredProvider = 'webgpu' | 'wasm';
export type UsedProvider = 'webgpu' | 'webgpu+wasm' | 'wasm';

export interface OpenOptions {
  /** Default 'wasm'. With 'webgpu', falls back to WASM and says why. */
  preferred?: PreferredProvider;
  /** Names the model in messages (a file name). */
  source?: string;
  /** Largest batch one run gets (default 16); a model with a fixed batch gets that. */
  maxBatch?: number;
}

interface Attempt {
  label: UsedProvider;
  providers: ort.InferenceSession.ExecutionProviderConfig[];
  /** Refuse to put any node on ORT's CPU provider (session.disable_cpu_ep_fallback). */
  strict: boolean;
}

const WEBGPU: ort.InferenceSession.WebGpuExecutionProviderOption = { name: 'webgpu', preferredLayout: 'NCHW' };

export class OnnxClassifier {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly signature: ClassifierSignature,
    readonly provider: UsedProvider,
    /** Why preferred providers were passed over ('' when the first choice ran). */
    readonly fallbackReason: string,
    private readonly maxBatch: number,
  ) {}

  static async open(bytes: Uint8Array, opts: OpenOptions = {}): Promise<OnnxClassifier> {
    const source = opts.source ?? 'the model';
    const signature = readClassifierSignature(bytes, source);
    const attempts: Attempt[] =
      (opts.preferred ?? 'wasm') === 'webgpu'
        ? [
            // NCHW: the layout of the crops, and ORT's WebGPU pooling has no 3D kernel for NHWC.
            { label: 'webgpu', providers: [WEBGPU], strict: true },
            { label: 'webgpu+wasm', providers: [WEBGPU], strict: false },
            { label: 'wasm', providers: ['wasm'], strict: false },
          ]
        : [{ label: 'wasm', providers: ['wasm'], strict: false }];
    const failures: string[] = [];
    for (const a of attempts) {
      try {
        const session = await ort.InferenceSession.create(bytes, {
          executionProviders: a.providers,
          graphOptimizationLevel: 'all',
          // Warnings only: ORT's info log lists every node placement.
          logSeverityLevel: 3,
          ...(a.strict ? { extra: { session: { disable_cpu_ep_fallback: '1' } } } : {}),
        });
        const maxBatch = signature.batch ?? Math.max(1, opts.maxBatch ?? 16);
        const clf = new OnnxClassifier(session, signature, a.label, failures.join('; '), maxBatch);
        // Some kernels fail only when run (unsupported shapes): one crop of air proves the provider.
        try {
          await clf.predict(new Float32Array(signature.crop[0] * signature.crop[1] * signature.crop[2]).fill(-1000), 1);
        } catch (e) {
          await session.release().catch(() => undefined);
          throw e;
        }
        return clf;
      } catch (e) {
        failures.push(`${a.label}${a.strict ? ' (all nodes)' : ''}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new Error(`${source}: onnxruntime-web could not open it (${failures.join('; ')})`);
  }

  /** [D, H, W] of the crops the model takes. */
  get crop(): [number, number, number] {
    return this.signature.crop;
  }

  /** p(nodule) of `n` crops, x = n·D·H·W floats (clamped HU, index-major, col fastest). */
  async predict(x: Float32Array, n: number): Promise<Float32Array> {
    const [d, h, w] = this.signature.crop;
    const vox = d * h * w;
    if (x.length !== n * vox) throw new Error(`predict: ${x.length} values are not ${n} crops of ${d}×${h}×${w}`);
    const out = new Float32Array(n);
    const fixed = this.signature.batch;
    for (let from = 0; from < n; from += this.maxBatch) {
      const k = Math.min(this.maxBatch, n - from);
      // A fixed-batch model gets full batches; the last one is padded with air and cut off.
      const rows = fixed ?? k;
      const data =
        rows === k
          ? x.subarray(from * vox, (from + k) * vox)
          : padTo(x.subarray(from * vox, (from + k) * vox), rows * vox);
      const feed = new ort.Tensor('float32', data, [rows, 1, d, h, w]);
      const result = await this.session.run({ [this.signature.input]: feed }, [this.signature.output]);
      const t = result[this.signature.output];
      try {
        const values = (await t.getData()) as Float32Array;
        out.set(positiveProbabilities(values, k, this.signature.outputKind), from);
      } finally {
        t.dispose();
      }
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function padTo(x: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length).fill(-1000);
  out.set(x);
  return out;
}
