"""The model: what a simulated model says, knowing nothing of the wire or of faults.

The catalogue of model aliases (prices, limits, speeds), the prompt a request carries, the behaviour
that turns a prompt into a reply (fixtures, built-in skills, a default), and token counting. Wire and
service code read this layer; it reads nothing above it.
"""
