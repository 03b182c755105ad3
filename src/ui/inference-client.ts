/**
 * The page's handle on the inference worker (ONNX models in onnxruntime-web, FROC/CPM). One
 * evaluation at a time; `restart` drops the worker and its GPU device.
 */
import * as Comlink from 'comlink';
import type { EvalOutcome, EvalRequest, InferenceApi, InferenceListener } from '../../workers/inference.worker.ts';

export type {
  CandidatePrediction,
  EvalOutcome,
  EvalProgress,
  EvalRequest,
  ModelSource,
} from '../../workers/inference.worker.ts';

export class InferenceClient {
  private worker: Worker | null = null;
  private api: Comlink.Remote<InferenceApi> | null = null;

  constructor(private readonly listener: InferenceListener) {}

  private remote(): Comlink.Remote<InferenceApi> {
    if (!this.api) {
      this.worker = new Worker(new URL('../../workers/inference.worker.ts', import.meta.url), {
        type: 'module',
        name: 'inference',
      });
      this.api = Comlink.wrap<InferenceApi>(this.worker);
      void this.api.setListener(Comlink.proxy(this.listener));
    }
    return this.api;
  }

  evaluate(req: EvalRequest): Promise<EvalOutcome> {
    // A file's bytes move to the worker rather than being copied.
    const transfer = req.model.kind === 'file' ? [req.model.bytes.buffer as ArrayBuffer] : [];
    return this.remote().evaluate(Comlink.transfer(req, transfer));
  }

  restart(): void {
    this.worker?.terminate();
    this.worker = null;
    this.api = null;
  }
}
