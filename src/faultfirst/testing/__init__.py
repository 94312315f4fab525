"""Test-suite machinery (not used by lessons): the reference solutions, stubbed as a learner's copy has them,
for the tests of the checks."""
