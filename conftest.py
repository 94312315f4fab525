"""Repository-wide pytest setup: nbval's notebooks run on the fast test kernel (see faultfirst/testing/zygote.py)."""

from faultfirst.testing.zygote import expose_kernel_spec

expose_kernel_spec()  # the spec named by --nbval-kernel-name in pyproject.toml
