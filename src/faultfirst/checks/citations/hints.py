"""The hints of the citations check, one per mistake it diagnoses (book/tier4/citations.md lists them)."""

FUZZY = ("a faithful quote with a small copying slip was rejected: when the exact search fails, score the quote "
         "against its best-matching stretch of the cited document (fuzz.partial_ratio_alignment) and accept it at "
         "the threshold")
PARAPHRASE = ("a paraphrase in quote marks was accepted: a threshold that low lets reworded sentences pass as quotes; "
              "keep it near 95")
NUMBERS = ("a quote whose number differs from the source's was accepted: a fuzzy score barely notices one changed "
           "digit, so require the matched stretch to hold the quote's numbers exactly")
NO_MATCH = ("verify raised on a quote that matches nothing: fuzz.partial_ratio_alignment returns None when no stretch "
            "reaches score_cutoff; that quote's Verdict is ok=False")
EMPTY = ("an empty quote was accepted: text.find('') is 0 in every document; a quote with no words in it verifies "
         "nothing")
CURLY = ("a quote in curly quote marks (or with a curly apostrophe) was missed or rejected: map \u201c \u201d "
         "\u2018 \u2019 to straight quotes (QUOTE_MARKS) before you parse and compare")
WHITESPACE = ("a quote broken over lines or spaced out was missed or rejected: collapse every run of whitespace to one "
              "space, in the answer and in the document")
INVISIBLE = ("a quote with zero-width spaces or soft hyphens in it was rejected: drop the invisible format characters "
             "(unicodedata.category(c) == 'Cf') before comparing")
COMPAT = ("a quote in fullwidth digits, a ligature or no-break spaces was rejected: normalise both sides with "
          "unicodedata.normalize('NFKC', ...) before comparing")
LOOKALIKE = ("a quote written partly in Cyrillic or Greek look-alike letters was rejected: fold them to Latin "
             "(LOOKALIKES) before comparing; NFKC does not")
ELLIPSIS = ("a quote that leaves words out with an ellipsis was rejected: split it at the ellipsis and find each "
            "piece, in order, in the cited document")
CITED_ONLY = ("a quote was accepted from a document it does not cite: check each quote against the one document it "
              "cites, alone, never against all the sources joined")
UNPROVIDED = ("a citation to a document that was never provided was accepted: the sources given are the only ones the "
              "model could quote; an id outside them fails, whatever the corpus holds")
REVERSED = ("a quote cut so that it drops the 'not' or 'only' of its sentence was accepted: look at the words of the "
            "quoted sentence that the quote leaves out, and reject it when one of them is a QUALIFIER")
SLIPS = ("a faithful quote with a few copying slips (a fuzzy score of 95 to 99) was rejected: accept a stretch scoring "
         "at least 95, no higher; a stricter threshold turns every small slip into a false alarm")
IN_ORDER = ("a quote whose pieces around an ellipsis come in another order than the document's was accepted: look for "
            "each piece after the end of the one before it (text[at:], and the fuzzy search too), never from the start")
CAPITALISED = ("a cut that drops a capitalised qualifier ('Unlike', 'Without', 'Only' opening the sentence) was "
               "accepted: lower-case the left-out words before you look them up in QUALIFIERS")
WHOLE_WORDS = ("a faithful cut was rejected for leaving out a word that only contains a qualifier's letters ('nodes' "
               "holds 'no', 'distributed' 'but'): compare whole words with QUALIFIERS, not substrings")
SENTENCE_END = ("a cut was accepted because a decimal point was taken for the end of a sentence: a sentence ends at "
                "'. ' (a period and a space), so '0.232' is inside it, and so is the qualifier before it that the "
                "quote leaves out")
REPEATED = ("an answer that gives the same quote twice got one Verdict for it: return one per quote as it occurs in "
            "the answer, repeats included (no set or dict of the quotes)")
ONE_SOURCE = ("a quote cited to an id that was not sent was accepted because only one source was: the id a quote cites "
              "is part of the claim; check it even when there is one source to check the words against")
NUMBER_ORDER = ("a quote that exchanges two of its sentence's numbers was accepted: compare the numbers as lists, in "
                "order (numbers(a) == numbers(b)), not as sets")
SOURCE_SIDE = ("a faithful quote of a source sent as a PDF's text (ligatures, fullwidth digits, no-break spaces, line "
               "breaks, soft hyphens) was rejected: normalise the document with the same function as the answer, "
               "every step of it, before you search it")
FUZZY_CUT = ("a cut that drops a qualifier was accepted because its words were found by the fuzzy search: look at "
             "what a quote leaves out of its sentence however it was found, exactly or at a score of 95")
