/** The page's handle on the inspect worker (started on first use). */
import * as Comlink from 'comlink';
import type { InspectApi, SaliencyReply, SaliencyRequest, SaliencyStage } from '../../workers/inspect.worker.ts';

export type { SaliencyReply, SaliencyRequest, SaliencyStage };

export class InspectClient {
  private api: Comlink.Remote<InspectApi> | null = null;

  saliency(req: SaliencyRequest, onStage?: (stage: SaliencyStage) => void): Promise<SaliencyReply> {
    this.api ??= Comlink.wrap<InspectApi>(
      new Worker(new URL('../../workers/inspect.worker.ts', import.meta.url), { type: 'module', name: 'inspect' }),
    );
    return this.api.saliency(req, onStage ? Comlink.proxy(onStage) : undefined);
  }
}
