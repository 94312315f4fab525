"""The fast test kernel: registered, found, and a real kernel that runs code with fresh state."""

from __future__ import annotations

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel


def test_the_fast_kernel_is_registered_and_found():
    """The kernel spec nbval is pointed at exists and names the zygote provisioner, which is installed."""
    from importlib.metadata import entry_points

    spec = KernelSpecManager().get_kernel_spec("faultfirst-fast")
    assert spec.metadata["kernel_provisioner"]["provisioner_name"] == "faultfirst-zygote"
    names = {e.name for e in entry_points(group="jupyter_client.kernel_provisioners")}
    assert "faultfirst-zygote" in names


@pytest.mark.loopback
def test_forked_kernels_run_code_and_do_not_share_state():
    """Two kernels forked from the zygote each execute code, and a variable set in one is absent in the other."""
    def run(client, code):
        reply = client.execute_interactive(code, timeout=60, store_history=False)
        return reply["content"]["status"]

    first, first_client = start_new_kernel(kernel_name="faultfirst-fast")
    second, second_client = start_new_kernel(kernel_name="faultfirst-fast")
    try:
        assert run(first_client, "from faultfirst import World\nmarker = World(seed=1).seed") == "ok"
        assert run(second_client, "marker") == "error"  # NameError: nothing leaked between kernels
    finally:
        for manager, client in ((first, first_client), (second, second_client)):
            client.stop_channels()
            manager.shutdown_kernel(now=True)
