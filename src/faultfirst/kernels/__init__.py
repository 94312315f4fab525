"""The fast notebook kernel: forked from a process that has imported everything once.

nbval (the test suite) and the book's build execute the lessons on it. JUPYTER_PATH points at this
folder, where `faultfirst-fast/kernel.json` names the provisioner that forks a kernel from the zygote.
"""
