"""The faults a world injects, named: the labels each attempt's record carries as ground truth.

Checks, lessons and tests score a learner's code against `record.faults`; `labels` says what each
label means and when an attempt carries it. This layer imports nothing of the package above it.
"""
