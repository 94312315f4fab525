"""The hints of the grounding checks: each names one mistake, and is given where an observation diagnoses it."""

from __future__ import annotations

RECALL_BAR = 0.95  # the held-out recall@5 a retriever must reach; the lesson's BM25 reaches 1.00

# grounding-retrieve
K = "return exactly k ids: pass k=min(k, number of papers) to index.retrieve, not a fixed number"
BEYOND = ("k may be larger than the number of papers indexed (bm25s raises ValueError then): ask for "
          "min(k, len(papers)) and return them all, ranked")
POSITIONS = "index.retrieve returns positions into the list you indexed: map each one to that paper's id"
POSITION_NAMES = ("the papers can come in any order, so a position says nothing about an id: map each position through "
                  "[paper.id for paper in papers], not through f\"doc-{i + 1:04d}\"")
TOKENISE = ("tokenise the question with bm25s.tokenize and the same settings as the corpus (lowercase, its word "
            "pattern, its stopwords): str.split() keeps capitals and punctuation, which the index never saw")
ABSTRACT = "index each paper's abstract (with its title): the title alone does not hold what questions ask about"
ONCE = ("build the index once, in make_retriever, and let retrieve only query it: a retriever that reads `papers` "
        "on a call (to rebuild the index, to build it on the first call, or to map positions to ids) sees the list "
        "change under it")
ORDER = ("return the ids best first, in the order index.retrieve gives them: sorting them, or reversing them, keeps "
         "recall@k and loses the ranking every later k and recall@1 rely on")
RANKING = (f"rank with bm25s.BM25 over each paper's title and abstract, as the lesson does: recall@5 on the held-out "
           f"questions must reach {RECALL_BAR}, and counting shared words lets common words outvote a paper's own name")

# grounding-recall
DOCUMENT = ("a chunk from the right paper is not enough: it must hold the gold span whole (start <= span.start and "
            "span.end <= end), or recall counts documents, not evidence")
WHOLE = ("a chunk that cuts the gold span holds only part of the evidence: count it only when the span is inside the "
         "chunk, not when the two overlap")
END = ("an end is excluded, as in a Python slice and in Span.end: a chunk that ends exactly where the span ends "
       "holds it (span.end <= end)")
START = ("a start is included, as in a Python slice and in Span.start: a chunk that starts exactly where the span "
         "starts holds it (start <= span.start)")
EDGE = ("a chunk one character short of the span holds only part of it: compare the offsets exactly, start <= "
        "span.start and span.end <= end, with no +1 or -1 (both ends are as in a Python slice)")
PAPER = ("a chunk holds a span only when it comes from the span's paper: compare doc == span.doc as well as the "
         "offsets (offsets in another abstract are other words)")
TWICE = ("count each gold span once, however many chunks hold it (overlapping chunks often both do): the share of "
         "the question's spans held by some chunk, not the number of chunks that hold one")
ONE_CHUNK = ("one chunk can hold two gold spans of the same paper: ask of each span whether any chunk holds it, and do "
             "not use a chunk up, or count papers, once it has held one")
POOLED = ("average the questions' shares, each question weighing the same: dividing all the spans found by all the "
          "gold spans lets a question with two spans count twice")
NOTHING = ("a question for which retrieve returns no chunks found none of its spans: it scores 0 and stays in the "
           "mean; only questions with no gold spans are left out")
ANY = "a question with two gold spans and one of them found scores 1/2, not 1: the share of its spans found"
ALL = "a question with two gold spans and one of them found scores 1/2, not 0: the share of its spans found"
PRECISION = ("divide the spans found by the question's gold spans, not by k: found / k is precision (and it punishes "
             "a bigger k)")
UNANSWERABLE = ("leave unanswerable questions (no spans) out of the mean: there is no evidence to find, and counting "
                "them as 0 makes every retriever look worse")
ASK_K = "call retrieve(question.text, k) with the k you were given: recall@k is about the first k chunks"
TEXT = "retrieve takes the question's text: call retrieve(question.text, k), not retrieve(question, k)"
