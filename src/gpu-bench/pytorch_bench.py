"""The PyTorch side of the GPU bench (src/gpu-bench): the book's LunaModel from the reference
script (shared/reference/pytorch_luna_bench.py, loaded by path) trained and run for inference at
the bench's batch sizes, in the same run as the lab's WebGPU measurements.

On CUDA it calls the reference's own bench() (fp32 eager, and bf16 autocast + channels-last), so
the figures are the reference's measurement; without CUDA the same loop runs on the CPU (fp32
only), each configuration stopping after --budget-s seconds. Prints one JSON object as its last
line: {device, deviceName, torch, threads, rows: [...], reference}.

Usage: python3 pytorch_bench.py --reference PATH [--batches 32,256] [--steps N] [--budget-s S] [--device auto|cuda|cpu]
"""
import argparse, importlib.util, json, sys, time


def load_reference(path):
    spec = importlib.util.spec_from_file_location('pytorch_luna_bench', path)
    if spec is None or spec.loader is None:
        raise SystemExit(f'--reference {path}: not a Python file')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cpu_bench(ref, torch, batch, steps, warmup, budget):
    """The reference's bench() loop, on the CPU, fp32, stopping after `budget` seconds."""
    nn = torch.nn
    m = ref.LunaModel()
    opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.99)
    x = torch.randn(batch, 1, 32, 48, 48)
    y = torch.randint(0, 2, (batch,))
    lossf = nn.CrossEntropyLoss()

    def step():
        l, _ = m(x)
        loss = lossf(l.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    n, t = 0, time.perf_counter()
    while n < steps and (n == 0 or time.perf_counter() - t < budget):
        step(); n += 1
    dt = time.perf_counter() - t
    with torch.no_grad():
        m(x)
        k, ti = 0, time.perf_counter()
        while k < steps and (k == 0 or time.perf_counter() - ti < budget):
            m(x); k += 1
        di = time.perf_counter() - ti
    return dict(batch=batch, amp=False, channels_last=False, compiled=False, steps=n,
                train_samples_per_s=round(batch * n / dt, 2), infer_samples_per_s=round(batch * k / di, 2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--reference', required=True)
    p.add_argument('--batches', default='32,256')
    p.add_argument('--steps', type=int, default=0, help='timed steps per configuration (0: the reference\'s 30 at batch 32, 15 at 256)')
    p.add_argument('--warmup', type=int, default=1, help='untimed steps first (CPU only; the reference takes 5 on CUDA)')
    p.add_argument('--budget-s', type=float, default=60.0, help='CPU only: seconds per configuration')
    p.add_argument('--device', default='auto', choices=['auto', 'cuda', 'cpu'])
    a = p.parse_args()
    import torch
    ref = load_reference(a.reference)
    batches = [int(b) for b in a.batches.split(',') if b]
    cuda = torch.cuda.is_available() if a.device == 'auto' else a.device == 'cuda'
    out = dict(device='cuda' if cuda else 'cpu', torch=torch.__version__, threads=torch.get_num_threads(), reference=a.reference, rows=[])
    if cuda:
        torch.backends.cudnn.benchmark = True
        out['deviceName'] = torch.cuda.get_device_name(0)
        for b in batches:
            steps = a.steps or (30 if b <= 32 else 15)
            for amp, cl in ((False, False), (True, True)):
                r = ref.bench(b, steps, amp, cl)
                r['steps'] = steps
                out['rows'].append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    else:
        import platform
        out['deviceName'] = platform.processor() or platform.machine()
        for b in batches:
            r = cpu_bench(ref, torch, b, a.steps or 30, a.warmup, a.budget_s)
            out['rows'].append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
