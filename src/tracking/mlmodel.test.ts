/**
 * The MLflow model directory's text files, byte for byte for fixed inputs. That MLflow itself
 * loads them (and that they parse to what mlflow.onnx.save_model writes) is checked against
 * the real thing in src/model/onnx-export.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MLMODEL_DEFAULT_VERSIONS, mlmodelFiles, signatureJson, type MlmodelOptions } from './mlmodel.ts';

const FIXED: MlmodelOptions = {
  crop: [32, 48, 48] as const,
  runId: '0123456789abcdef0123456789abcdef',
  createdUtc: new Date(Date.UTC(2026, 10, 26, 21, 5, 7, 89)),
  modelUuid: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
  modelSizeBytes: 893_562,
  versions: {
    mlflow: '3.17.2',
    onnx: '1.23.2',
    onnxruntime: '1.32.0',
    numpy: '2.4.6',
    python: '3.11.7',
    pip: '23.2.1',
    setuptools: '84.2.1',
  },
};

const file = (name: string, opts: MlmodelOptions = FIXED) => {
  const f = mlmodelFiles(opts).find((x) => x.path === name);
  if (!f) throw new Error(`no ${name}`);
  return f;
};

describe('mlmodelFiles', () => {
  it('writes the four files of an mlflow.onnx model directory', () => {
    expect(mlmodelFiles(FIXED).map((f) => [f.path, f.contentType])).toEqual([
      ['MLmodel', 'text/yaml'],
      ['conda.yaml', 'text/yaml'],
      ['python_env.yaml', 'text/yaml'],
      ['requirements.txt', 'text/plain'],
    ]);
  });

  it('MLmodel: onnx + python_function flavors, run, signature as JSON strings, keys sorted', () => {
    expect(file('MLmodel').data).toBe(
      [
        'artifact_path: model',
        'flavors:',
        '  onnx:',
        '    code: null',
        '    data: model.onnx',
        '    onnx_session_options: null',
        '    onnx_version: 1.23.2',
        '    providers:',
        '    - CPUExecutionProvider',
        '  python_function:',
        '    data: model.onnx',
        '    env:',
        '      conda: conda.yaml',
        '      virtualenv: python_env.yaml',
        '    loader_module: mlflow.onnx',
        '    python_version: 3.11.7',
        'is_signature_from_type_hint: false',
        'mlflow_version: 3.17.2',
        'model_id: null',
        'model_size_bytes: 893562',
        'model_uuid: a1b2c3d4e5f60718293a4b5c6d7e8f90',
        'prompts: null',
        "run_id: '0123456789abcdef0123456789abcdef'",
        'signature:',
        `  inputs: '[{"name": "input", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 32, 48, 48]}}]'`,
        `  outputs: '[{"name": "logits", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}, {"name": "probabilities", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]'`,
        '  params: null',
        'type_hint_from_example: false',
        "utc_time_created: '2026-11-26 21:05:07.089000'",
        '',
      ].join('\n'),
    );
  });

  it('environment files pin what mlflow.onnx requires', () => {
    expect(file('conda.yaml').data).toBe(
      'channels:\n- conda-forge\ndependencies:\n- python=3.11.7\n- pip<=23.2.1\n- pip:\n  - mlflow==3.17.2\n  - numpy==2.4.6\n  - onnx==1.23.2\n  - onnxruntime==1.32.0\nname: mlflow-env\n',
    );
    expect(file('python_env.yaml').data).toBe(
      'python: 3.11.7\nbuild_dependencies:\n- pip==23.2.1\n- setuptools==84.2.1\n- wheel\ndependencies:\n- -r requirements.txt\n',
    );
    expect(file('requirements.txt').data).toBe('mlflow==3.17.2\nnumpy==2.4.6\nonnx==1.23.2\nonnxruntime==1.32.0');
  });

  it('takes mlflowVersion/onnxVersion, defaults the rest, and draws a fresh uuid', () => {
    const opts: MlmodelOptions = {
      crop: [16, 24, 24],
      runId: 'abc',
      createdUtc: FIXED.createdUtc,
      mlflowVersion: '3.9.0',
      onnxVersion: '1.20.0',
    };
    const a = file('MLmodel', opts).data;
    const b = file('MLmodel', opts).data;
    expect(a).toContain('mlflow_version: 3.9.0\n');
    expect(a).toContain('    onnx_version: 1.20.0\n');
    expect(a).toContain(`python_version: ${MLMODEL_DEFAULT_VERSIONS.python}\n`);
    expect(a).toContain('run_id: abc\n');
    expect(a).toContain('"shape": [-1, 1, 16, 24, 24]');
    expect(a).not.toContain('model_size_bytes');
    const uuid = (s: string) => /model_uuid: '?([0-9a-f]{32})'?\n/.exec(s)?.[1];
    expect(uuid(a)).toBeDefined();
    expect(uuid(a)).not.toBe(uuid(b));
    expect(file('requirements.txt', opts).data).toContain(`onnxruntime==${MLMODEL_DEFAULT_VERSIONS.onnxruntime}`);
  });

  it('quotes strings YAML would read as something else', () => {
    const m = file('MLmodel', { ...FIXED, runId: '1e5', modelUuid: FIXED.modelUuid });
    expect(m.data).toContain("run_id: '1e5'\n");
    expect(file('MLmodel', { ...FIXED, runId: 'true' }).data).toContain("run_id: 'true'\n");
    expect(file('MLmodel', { ...FIXED, runId: "it's" }).data).toContain("run_id: 'it''s'\n");
  });

  it('every file reads back, as YAML 1.1 (PyYAML) and 1.2, to the strings written', () => {
    for (const runId of [
      "it's",
      '1e5',
      '0x1f',
      '1:30',
      '012',
      'yes',
      'Off',
      '~',
      '-1',
      '.inf',
      ' lead',
      'trail ',
      'a: b',
      '#x',
      'a\nb',
      '[1]',
      '"q"',
    ]) {
      for (const version of ['1.1', '1.2'] as const) {
        for (const f of mlmodelFiles({ ...FIXED, runId }))
          if (f.contentType === 'text/yaml') parse(f.data, { version });
        const m = parse(file('MLmodel', { ...FIXED, runId }).data, { version }) as Record<string, unknown>;
        expect([version, m['run_id']]).toEqual([version, runId]);
        expect((m['signature'] as Record<string, string>)['inputs']).toBe(
          signatureJson([{ name: 'input', dtype: 'float32', shape: [-1, 1, 32, 48, 48] }]),
        );
      }
    }
    const env = parse(file('python_env.yaml').data, { version: '1.1' }) as Record<string, unknown>;
    expect(env).toEqual({
      python: '3.11.7',
      build_dependencies: ['pip==23.2.1', 'setuptools==84.2.1', 'wheel'],
      dependencies: ['-r requirements.txt'],
    });
  });

  it('rejects a bad uuid or date', () => {
    expect(() => mlmodelFiles({ ...FIXED, modelUuid: 'XYZ' })).toThrow(/modelUuid/);
    expect(() => mlmodelFiles({ ...FIXED, createdUtc: new Date(NaN) })).toThrow(/createdUtc/);
  });

  it('signatureJson is MLflow 3 Schema.to_json', () => {
    expect(signatureJson([{ name: 'input', dtype: 'float32', shape: [-1, 1, 32, 48, 48] }])).toBe(
      '[{"name": "input", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 32, 48, 48]}}]',
    );
  });
});
