/** The page's handle on the inspect worker (started on first use), and what Inspect looks at. */
import * as Comlink from 'comlink';
import type {
  InspectApi,
  SaliencyModel,
  SaliencyReply,
  SaliencyRequest,
  SaliencyStage,
} from '../../workers/inspect.worker.ts';
import type { RunRecord } from '../store/records.ts';
import type { SourceWeights } from '../train/model-source.ts';

export type { SaliencyModel, SaliencyReply, SaliencyRequest, SaliencyStage };

/**
 * What the Inspect section shows: a run of this browser (a `RunRecord` is one), or an MLflow
 * model read by the page, whose `runId` is its URI and which carries its weights.
 */
export type InspectTarget = Pick<RunRecord, 'runId' | 'name' | 'config' | 'predictions'> & {
  weights?: SourceWeights;
};

/** The worker's view of a target: a run's id, or the weights the page read. */
export function saliencyModelOf(t: InspectTarget): SaliencyModel {
  return t.weights
    ? { kind: 'weights', key: t.runId, config: t.config, specs: t.weights.specs, data: t.weights.data }
    : { kind: 'run', runId: t.runId };
}

export class InspectClient {
  private api: Comlink.Remote<InspectApi> | null = null;

  saliency(req: SaliencyRequest, onStage?: (stage: SaliencyStage) => void): Promise<SaliencyReply> {
    this.api ??= Comlink.wrap<InspectApi>(
      new Worker(new URL('../../workers/inspect.worker.ts', import.meta.url), { type: 'module', name: 'inspect' }),
    );
    return this.api.saliency(req, onStage ? Comlink.proxy(onStage) : undefined);
  }
}
