/**
 * onnxruntime-web's environment in the lab's workers (browser only; imported for its effect):
 * Vite emits ORT's WebAssembly binary (the JSEP build: WebGPU + WASM execution providers) as
 * an asset, and ORT is told its URL; the matching .mjs glue is bundled with `onnxruntime-web`
 * itself, so nothing is fetched from a CDN. Threads need cross-origin isolation
 * (SharedArrayBuffer); without it one thread is asked for, where ORT would warn and use one.
 */
import * as ort from 'onnxruntime-web';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';

ort.env.wasm.wasmPaths = { wasm: ortWasmUrl };
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
