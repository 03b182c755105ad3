/**
 * Test-only (Node): how the TypeScript tests and the Python reference scripts exchange
 * tensors — a folder of raw little-endian float32 files plus `manifest.json` naming each
 * tensor's file and shape (and any extra JSON). The Python side is tensor_exchange.py.
 * Not named *.test.ts: vitest does not collect it.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Tensors = Record<string, { shape: readonly number[]; data: Float32Array }>;

export function writeTensors(dir: string, tensors: Tensors, extra: Record<string, unknown>): void {
  fs.mkdirSync(dir, { recursive: true });
  const specs: Record<string, { file: string; shape: readonly number[] }> = {};
  Object.entries(tensors).forEach(([name, t], i) => {
    const file = `${String(i).padStart(4, '0')}.f32`;
    // Float32Array bytes are little-endian on every machine Node runs on here (x86, arm64).
    fs.writeFileSync(path.join(dir, file), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    specs[name] = { file, shape: t.shape };
  });
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...extra, tensors: specs }));
}

/** The tensors of a folder, with the manifest's other fields. */
export function readTensors<Extra extends object = Record<string, never>>(
  dir: string,
): { tensors: Tensors; manifest: Extra } {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Extra & {
    tensors: Record<string, { file: string; shape: number[] }>;
  };
  const tensors: Tensors = {};
  for (const [name, spec] of Object.entries(manifest.tensors)) {
    const bytes = fs.readFileSync(path.join(dir, spec.file));
    tensors[name] = {
      shape: spec.shape,
      data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
    };
  }
  return { tensors, manifest };
}
