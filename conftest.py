"""Repository-wide pytest setup: nbval's notebooks run on the fast test kernel (see faultfirst/kernels/zygote.py)."""

import os

from faultfirst.kernels.zygote import expose_kernel_spec

expose_kernel_spec()  # the spec named by --nbval-kernel-name in pyproject.toml
# The suite is the offline proof: a learner who exported FAULTFIRST_LIVE=1 for their own work must not
# send the tests, or the notebooks' kernels (which inherit this environment), to the real APIs.
os.environ.pop("FAULTFIRST_LIVE", None)


def pytest_configure(config) -> None:
    """In the controller of an xdist run: one zygote for all workers, importing while they start."""
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        from faultfirst.kernels.zygote import share_zygote

        share_zygote()
