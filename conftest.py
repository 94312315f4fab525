"""Repository-wide pytest setup: nbval's notebooks run on the fast test kernel (see faultfirst/testing/zygote.py)."""

from faultfirst.testing.zygote import expose_kernel_spec

expose_kernel_spec()  # the spec named by --nbval-kernel-name in pyproject.toml


def pytest_configure(config) -> None:
    """In the controller of an xdist run: one zygote for all workers, importing while they start."""
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        from faultfirst.testing.zygote import share_zygote

        share_zygote()
