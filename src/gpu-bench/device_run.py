"""The GPU bench's device entry script: the __main__ of the archive `npm run bench:gpu -- --pack FILE`
writes (a Python zip application holding payload.tar.xz), for a machine with Python (and PyTorch)
but no Node, no Chromium and no network.

    python3 gpu-bench.pyz [--out DIR] [--icd ICD.json] [--work DIR] [--timeout S] [-- bench options]

Unpacks the payload (Node, dawn.node, the Vulkan loader, the bundled bench, the PyTorch driver and
reference) into a fresh folder, sets LD_LIBRARY_PATH (our lib/ for Node and dawn.node only; torch
keeps the machine's) and VK_ICD_FILENAMES (the NVIDIA ICD when present, else --icd, else what the
environment has, else Chromium's SwiftShader), samples nvidia-smi while the bench runs when there
is one, and writes gpu-bench.json + gpu-bench.md into --out (default $OUT, else ./gpu-bench-out).
Only the standard library: tarfile + lzma for xz, since the machine may lack xz.
"""
import argparse, io, json, os, shutil, subprocess, sys, tarfile, tempfile, threading, time, zipfile

NVIDIA_ICDS = ['/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json', '/usr/share/vulkan/icd.d/nvidia_icd.json', '/etc/vulkan/icd.d/nvidia_icd.json']
SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json'


def choose_icd(given):
    for p in NVIDIA_ICDS:
        if os.path.exists(p):
            return p, 'nvidia'
    if given:
        return given, 'given (--icd)'
    if os.environ.get('VK_ICD_FILENAMES'):
        return os.environ['VK_ICD_FILENAMES'], 'environment'
    if os.path.exists(SWIFTSHADER_ICD):
        return SWIFTSHADER_ICD, 'swiftshader (no NVIDIA ICD here)'
    return None, 'none found'


def unpack(archive, work):
    """Extracts payload.tar.xz from the zip application `archive` into a fresh folder under `work`."""
    os.makedirs(work, exist_ok=True)
    dest = tempfile.mkdtemp(prefix='luna-gpu-bench-', dir=work)
    with zipfile.ZipFile(archive) as z, z.open('payload.tar.xz') as f:
        data = f.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:xz') as t:
        try:
            t.extractall(dest, filter='tar')
        except TypeError:  # Python < 3.12 has no filter argument
            t.extractall(dest)
    return dest


def needs_compat_libstdcxx(probe_lib):
    """Whether the machine's libstdc++ lacks the GLIBCXX version dawn.node was built against."""
    for d in ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/lib64']:
        p = os.path.join(d, 'libstdc++.so.6')
        if os.path.exists(p):
            with open(os.path.realpath(p), 'rb') as f:
                return probe_lib.encode() not in f.read()
    return True


def sample_gpu(stop, samples):
    """nvidia-smi utilisation and memory every 0.5 s until `stop` is set."""
    smi = shutil.which('nvidia-smi')
    if not smi:
        return
    while not stop.is_set():
        try:
            r = subprocess.run([smi, '--query-gpu=utilization.gpu,memory.used', '--format=csv,noheader,nounits'], capture_output=True, text=True, timeout=5)
            line = r.stdout.strip().split('\n')[0]
            u, m = (float(x) for x in line.split(','))
            samples.append((time.time(), u, m))
        except Exception:
            pass
        stop.wait(0.5)


def main():
    argv = sys.argv[1:]
    rest = []
    if '--' in argv:
        i = argv.index('--')
        argv, rest = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog='gpu-bench.pyz')
    p.add_argument('--out', default=os.environ.get('OUT') or 'gpu-bench-out')
    p.add_argument('--icd', help='Vulkan ICD json when the machine has no NVIDIA one')
    p.add_argument('--work', default=tempfile.gettempdir(), help='where the fresh folder is made')
    p.add_argument('--timeout', type=float, default=540, help='seconds for the bench (Node + PyTorch); its WebGPU part starts nothing new after timeout - 150')
    p.add_argument('--python', default=sys.executable, help='Python with torch for the reference')
    p.add_argument('--keep', action='store_true', help='keep the unpacked folder')
    a = p.parse_args(argv)
    t0 = time.time()
    archive = os.path.abspath(sys.argv[0])
    dest = unpack(archive, a.work)
    print(f'unpacked into {dest} in {time.time() - t0:.1f} s', flush=True)
    icd, why = choose_icd(a.icd)
    env = dict(os.environ)
    env['LUNA_ORIG_LD_LIBRARY_PATH'] = os.environ.get('LD_LIBRARY_PATH', '')
    libs = [os.path.join(dest, 'lib')]
    if needs_compat_libstdcxx('GLIBCXX_3.4.30'):
        libs.append(os.path.join(dest, 'lib', 'compat'))
        print('the machine\'s libstdc++ lacks GLIBCXX_3.4.30: using the packed one for Node', flush=True)
    env['LD_LIBRARY_PATH'] = ':'.join(libs + ([os.environ['LD_LIBRARY_PATH']] if os.environ.get('LD_LIBRARY_PATH') else []))
    if icd:
        env['VK_ICD_FILENAMES'] = icd
    print(f'VK_ICD_FILENAMES={icd} ({why})', flush=True)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    if '--deadline-s' not in rest:
        # No new WebGPU measurement after this, so PyTorch still runs within --timeout.
        rest += ['--deadline-s', str(int(max(60, a.timeout - 150)))]
    node = os.path.join(dest, 'bin', 'node')
    cmd = [node, os.path.join(dest, 'gpu-bench.mjs'), '--out', out, '--python', a.python,
           '--torch-script', os.path.join(dest, 'pytorch_bench.py'), '--reference', os.path.join(dest, 'pytorch_luna_bench.py')] + rest
    print(' '.join(cmd), flush=True)
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=sample_gpu, args=(stop, samples), daemon=True)
    sampler.start()
    try:
        code = subprocess.run(cmd, env=env, cwd=dest, timeout=a.timeout).returncode
    except subprocess.TimeoutExpired:
        code = 124
        print(f'the bench ran past --timeout {a.timeout:.0f} s', flush=True)
    stop.set()
    sampler.join(timeout=6)
    jpath, mpath = os.path.join(out, 'gpu-bench.json'), os.path.join(out, 'gpu-bench.md')
    if os.path.exists(jpath):
        with open(jpath) as f:
            result = json.load(f)
        result['device'] = dict(archive=os.path.basename(archive), icdChoice=why, unpackedInto=dest, exitCode=code, totalSeconds=round(time.time() - t0, 1))
        result['gpuUtilisation'] = None
        if samples:
            us = [s[1] for s in samples]
            result['gpuUtilisation'] = dict(samples=len(us), meanPercent=sum(us) / len(us), maxPercent=max(us), maxMemoryMiB=max(s[2] for s in samples))
        with open(jpath, 'w') as f:
            json.dump(result, f, indent=2)
        with open(mpath, 'a') as f:
            u = result['gpuUtilisation']
            f.write(f"\n## Device run\n\n- archive {os.path.basename(archive)}, unpacked into a fresh folder, {result['device']['totalSeconds']} s in all, bench exit code {code}\n"
                    f"- VK_ICD_FILENAMES={icd} ({why})\n"
                    + (f"- GPU utilisation (nvidia-smi, {u['samples']} samples): mean {u['meanPercent']:.1f} %, max {u['maxPercent']:.0f} %, max memory {u['maxMemoryMiB']:.0f} MiB\n" if u else '- no nvidia-smi samples (no nvidia-smi here)\n'))
        print(f'results: {jpath}, {mpath}', flush=True)
    else:
        print(f'no result written (exit code {code})', flush=True)
        code = code or 1
    if not a.keep:
        shutil.rmtree(dest, ignore_errors=True)
    sys.exit(code)


if __name__ == '__main__':
    main()
