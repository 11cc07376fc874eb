"""Test-session settings.

One BLAS/OpenMP thread per test process: the tests run many small LAPACK calls (SVDs of
calibration matrices, eigen-decompositions), which multi-threaded OpenBLAS turns into long
stalls on a busy 2-core machine. Set before numpy is imported by any test module.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
