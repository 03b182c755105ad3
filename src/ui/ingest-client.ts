/**
 * The page's handle on the ingest worker. One worker for the page's lifetime; comlink
 * proxies carry the progress callbacks across.
 */
import * as Comlink from 'comlink';
import type { IngestApi, DroppedFile, RemoteFile } from '../../workers/ingest.worker.ts';
import type { FileProgress, IngestReport } from '../store/ingest.ts';
import type { SynthOptions } from '../data/synthetic.ts';

let api: Comlink.Remote<IngestApi> | null = null;

function worker(): Comlink.Remote<IngestApi> {
  api ??= Comlink.wrap<IngestApi>(
    new Worker(new URL('../../workers/ingest.worker.ts', import.meta.url), { type: 'module', name: 'ingest' }),
  );
  return api;
}

export type { DroppedFile, FileProgress, IngestReport, RemoteFile };

export function ingest(
  files: DroppedFile[],
  onProgress: (p: FileProgress[]) => void,
  force = false,
): Promise<IngestReport> {
  return worker().ingest(files, Comlink.proxy(onProgress), force);
}

export function ingestDemo(opts: SynthOptions, onProgress: (p: FileProgress[]) => void): Promise<IngestReport> {
  return worker().demo(opts, Comlink.proxy(onProgress));
}

/** `diskFreeBytes`: free space on the disk that holds the profile, where the caller knows it. */
export function ingestUrls(
  urls: RemoteFile[],
  onProgress: (p: FileProgress[]) => void,
  diskFreeBytes: number | null = null,
): Promise<IngestReport> {
  return worker().ingestUrls(urls, Comlink.proxy(onProgress), diskFreeBytes);
}
