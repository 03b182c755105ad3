/**
 * `luna-lab`: the lab's command line. Each command validates its arguments before any
 * work; failures print `luna-lab: <what>` once each (diagnostics.ts; the stack only with
 * LUNA_DEBUG set). Exit codes: 0 success, 1 failure, 2 usage, 130 interrupted.
 */
import { readFile } from 'node:fs/promises';
import { formatIssue } from '../config/lab-config.ts';
import { decodeLabUrl, encodeLabUrl } from '../config/lab-url.ts';
import { resolveTrainConfig } from './train-config.ts';
import { readFileSync } from 'node:fs';
import { DataError } from '../data/errors.ts';
import { LAB_ADDRESS, parseArgs, parseInteger, helpText, UsageError, type ParsedArgs } from './args.ts';
import { describeErrors, exitCodeOf, noteLine, onceIo } from './diagnostics.ts';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') };

export async function main(argv: readonly string[], given: Io = stdio): Promise<number> {
  const io = onceIo(given);
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    for (const line of describeErrors(e)) io.err(line);
    return 2;
  }
  try {
    switch (args.command) {
      case 'help':
        io.out(helpText(args.positionals[0]));
        return 0;
      case 'version':
        io.out(version());
        return 0;
      case 'inspect':
        return await (await import('./scan-commands.ts')).inspect(args, io);
      case 'crop':
        return await (await import('./scan-commands.ts')).crop(args, io);
      case 'synth':
        return await (await import('./scan-commands.ts')).synth(args, io);
      case 'mlflow':
        return await mlflow(args, io);
      case 'eval': {
        const { evalCommand } = await import('./eval.ts');
        return await evalCommand(args, io);
      }
      case 'froc': {
        const { frocCommand } = await import('./froc.ts');
        return await frocCommand(args, io);
      }
      case 'url':
        return await url(args, io);
      case 'train': {
        const { train } = await import('./train.ts');
        return await train(args, io);
      }
      case 'sweep': {
        const { sweep } = await import('./sweep.ts');
        return await sweep(args, io);
      }
      case 'cv': {
        const { cv } = await import('./cv.ts');
        return await cv(args, io);
      }
      case 'bench': {
        const { bench } = await import('./bench.ts');
        return await bench(args, io);
      }
    }
  } catch (e) {
    for (const line of describeErrors(e)) io.err(line);
    return exitCodeOf(e);
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function url(args: ParsedArgs, io: Io): Promise<number> {
  const decode = args.values.decode as string | undefined;
  const configPath = args.values.config as string | undefined;
  if ((decode === undefined) === (configPath === undefined))
    throw new UsageError(
      'Give --config FILE or --decode LAB_URL. Usage: luna-lab url --config FILE [--base URL] | --decode LAB_URL',
    );
  if (decode !== undefined) {
    const { config, issues, notes } = decodeLabUrl(decode);
    if (issues.length) throw new UsageError(`the lab URL cannot be used: ${issues.map(formatIssue).join('; ')}`);
    // stdout stays the config alone (JSON to pipe on); what an older link means differently goes to stderr.
    for (const n of notes) io.err(noteLine(n));
    io.out(JSON.stringify(config, null, 2));
    return 0;
  }
  const text = await readFile(configPath!, 'utf8').catch(() => {
    throw new DataError(`--config ${configPath}: cannot read the file`, { file: configPath });
  });
  const base = (args.values.base as string | undefined) ?? LAB_ADDRESS;
  if (!/^https?:\/\/[^\s#]+$/.test(base)) throw new UsageError(`--base "${base}" is not an http(s) URL`);
  io.out(encodeLabUrl(resolveTrainConfig({ configFile: { name: configPath!, text } }), base));
  return 0;
}

async function mlflow(args: ParsedArgs, io: Io): Promise<number> {
  const port = parseInteger(args.values.port as string | undefined, 'port', 5000, 1, 65535);
  const { ensureMlflowVenv, startMlflowServer } = await import('./mlflow-server.ts');
  const server = await startMlflowServer({
    port,
    dir: args.values.dir as string | undefined,
    executable: ensureMlflowVenv(),
  });
  io.out(
    `MLflow ${await fetch(`${server.url}/version`).then((r) => r.text())} serving on ${server.url} (Ctrl-C stops it)`,
  );
  io.out(`In the lab, set Tracking → server to ${server.url}`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 130;
}
