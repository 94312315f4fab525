"""The checks of the lesson "Generating text with citations" (book/tier4/citations.md).

`verify` holds the check of `citations-verify` and its listed mistakes, `hints` the hint of each mistake,
`cases` the labelled answers it scores on (`cases.json`), and `write_cases` the script that writes them
from the simulated world and the corpus, with the adversarial answers `hand_made` builds (neither is imported
by the check).
"""

from . import verify as verify
