"""Checks for the lesson "Grounding" (book/tier4/grounding.md).

`grounding-retrieve` builds the learner's BM25 retriever over the corpus's papers (in an order of the check's
choosing, and over a handful of them) and probes it with questions that only a retriever tokenising the
question as the corpus, indexing the abstracts and mapping positions to ids can answer, then scores it on the
held-out questions. `grounding-recall` hands the learner's recall@k scripted chunk retrievers and questions
whose right recall the check knows. Both are pure: no world, no model, so each answers in milliseconds. Each
expectation that diagnoses one mistake carries that mistake's hint; the mistakes are listed beside each check.
"""

# Importing the modules registers the checks and their mistakes.
from . import recall as recall
from . import retrieve as retrieve
