"""Benchmarks of the onboarding engine (issue 7). Not tests: pytest only collects tests/.

    .venv/bin/python -m bench            # every figure at full size (1M, 3M and 10M events; hours on 2 cores)
    .venv/bin/python -m bench --quick    # every figure at a small size, a few minutes
    .venv/bin/python -m bench --only floor,incremental

Each figure prints one line per measured ratio and writes bench/results/<figure>.json. Peak memory is
measured from outside: the measured work runs in a child process (bench/measure.py) that reports
`getrusage(RUSAGE_CHILDREN)` and the sampled RSS of the whole process tree. docs/benchmarks.md has the
figures of record.
"""
