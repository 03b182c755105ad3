/**
 * The ingest worker: files in, cache out. Parsing and IndexedDB writes happen here so the
 * page never blocks on a 60 MB scan. Its comlink API is `IngestApi`; every error leaves
 * as plain data (a report entry), never as an exception carrying class instances.
 */
import * as Comlink from 'comlink';
import { sourceFromBytes, sourceFromFile, type SourceFile } from '../src/data/source.ts';
import { sourceFromUrl, type RemoteFile } from '../src/headless/remote-source.ts';
import { generateSynthetic, type SynthOptions } from '../src/data/synthetic.ts';
import { labStore } from '../src/store/lab-store.ts';
import { ingestFiles, type FileProgress, type IngestReport } from '../src/store/ingest.ts';
import type { SlabEncoder } from '../src/data/slab-encoder.ts';
import { slabEncodeWorkers } from '../src/store/slab-encode-workers.ts';

export interface DroppedFile {
  /** Path relative to the drop, '/'-separated. */
  path: string;
  file: File;
}

export interface IngestApi {
  ingest(files: DroppedFile[], onProgress?: (p: FileProgress[]) => void, force?: boolean): Promise<IngestReport>;
  /** Generate the synthetic LUNA16-format demo set and ingest it like a drop. */
  demo(opts: SynthOptions, onProgress?: (p: FileProgress[]) => void): Promise<IngestReport>;
  /** Fetch files by URL (the CLI serves a data folder) and ingest them; files already cached
   *  (same path, size and mtime) are skipped, as on a re-drop. */
  ingestUrls(
    urls: RemoteFile[],
    onProgress?: (p: FileProgress[]) => void,
    diskFreeBytes?: number | null,
  ): Promise<IngestReport>;
}

export type { RemoteFile };

/** Progress is batched per animation-frame-ish tick: thousands of DICOM files would flood the page. */
function batched(cb?: (p: FileProgress[]) => void): { push: (p: FileProgress) => void; flush: () => void } {
  let buf: FileProgress[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (buf.length && cb) cb(buf);
    buf = [];
  };
  return {
    push: (p) => {
      buf.push(p);
      timer ??= setTimeout(flush, 50);
    },
    flush,
  };
}

/** Slabs are encoded on every core while this thread reads and parses the next scan; the
 *  workers are spawned at the first slab and kept for later drops. */
let encoder: SlabEncoder | null = null;
const slabEncoder = () => (encoder ??= slabEncodeWorkers());

async function run(
  files: SourceFile[],
  onProgress?: (p: FileProgress[]) => void,
  force = false,
  diskFreeBytes: number | null = null,
): Promise<IngestReport> {
  const progress = batched(onProgress);
  try {
    return await ingestFiles(labStore(), files, {
      force,
      onProgress: progress.push,
      diskFreeBytes,
      encoder: slabEncoder(),
    });
  } finally {
    progress.flush();
  }
}

const api: IngestApi = {
  ingest(files, onProgress, force) {
    return run(
      files.map((d) => sourceFromFile(d.file, d.path)),
      onProgress,
      force,
    );
  },
  demo(opts, onProgress) {
    const files: SourceFile[] = [];
    for (const f of generateSynthetic(opts)) files.push(sourceFromBytes(`synthetic-demo/${f.path}`, f.bytes));
    return run(files, onProgress, true);
  },
  async ingestUrls(urls, onProgress, diskFreeBytes) {
    const files = urls.map(sourceFromUrl);
    return run(files, onProgress, false, diskFreeBytes ?? null);
  },
};

Comlink.expose(api);
