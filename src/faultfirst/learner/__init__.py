"""The learner's side: the workspace a learner opens (`faultfirst lab`) and `faultfirst progress`, which
grades the exercises in it."""
