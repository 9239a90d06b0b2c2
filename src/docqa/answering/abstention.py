"""Reading abstentions in a model's reply: an answer that says the documents do not say.

An answer that opens with such a disclaimer is an abstention whatever follows it (a citation,
a guess); one that answers and then disclaims the whole question is *mixed*. A sentence naming
what the documents leave out ("The sources do not say how long it takes.") is a precise
answer, not a disclaimer. English and French.
"""

from __future__ import annotations

import re

from docqa.support import split_sentences, strip_citations

# "The documents do not say", "the provided sources don't contain …", "les sources ne le
# précisent pas": a subject naming the documents, a negation and a verb of saying or holding.
_DOCS_EN = (
    r"(?:the |these |those )?(?:provided |given |retrieved |above )?"
    r"(?:documents?|sources?|context|texts?|passages?|excerpts?)"
)
_VERBS_EN = (
    r"(?:say|state|contain|mention|specify|provide|include|cover|explain|describe|give|address"
    r"|discuss|indicate|answer|tell|have|offer|list|detail)s?"
)
_DOCS_FR = r"(?:les |ces )?(?:documents?|sources?|textes?|passages?|extraits?)(?: fournie?s)?"
_VERBS_FR = (
    r"(?:disent|dit|contiennent|contient|précisent|précise|mentionnent|mentionne|indiquent"
    r"|indique|fournissent|fournit|expliquent|explique|donnent|donne|abordent|aborde|parlent"
    r"|parle|traitent|traite|répondent|répond|couvrent|couvre)"
)
_NOT_IN_DOCUMENTS = re.compile(
    rf"(?:(?:but|however|mais|cependant),? )?(?:{_DOCS_EN} (?:do|does|did)(?: not|n't) "
    rf"{_VERBS_EN}|there is no (?:information|mention|answer)"
    rf"|{_DOCS_FR} (?:ne |n')(?:le |l'|en |y )?{_VERBS_FR})"
)
# What may follow that phrase in a bare, whole-question disclaimer: "The documents do not say.",
# "… do not contain an answer to this question.", "Les documents ne le disent pas."
_BARE_TAIL = re.compile(
    r"(?: pas)?"
    r"(?: (?:so|this|that|it|anything|an answer|the answer|any information|information"
    r"|de réponse|la réponse|rien|d'information|d'informations|cela))?"
    r"(?: (?:to|about|on|for|regarding|à|sur|concernant) (?:this|that|it|cela|ce sujet"
    r"|(?:the|this|that|cette|la) question))?"
    r"(?: (?:in|from) (?:the |these )?(?:provided )?(?:documents?|sources?|context)"
    r"| dans (?:les|ces) (?:documents|sources))?"
    r"[\s.!…]*"
)
# "… do not cover the question about Knoppix, but …": the whole question, whatever follows.
_WHOLE_QUESTION = re.compile(
    r"(?: pas)?(?: (?:fully|completely|entirely|entièrement|complètement|totalement))?"
    r" (?:the|this|your|that|cette|la|votre) question\b"
)


def _normalised_sentences(text: str) -> list[str]:
    sentences = split_sentences(strip_citations(text))
    return [" ".join(s.lower().replace("’", "'").split()) for s in sentences]


def says_not_in_documents(text: str) -> bool:
    """Whether the answer opens by saying the documents do not say (English or French).

    Such an answer is an abstention whatever follows it: a citation (``"The documents do not
    say. [7]"``), or a guess after the disclaimer.
    """
    sentences = _normalised_sentences(text)
    return bool(sentences) and _NOT_IN_DOCUMENTS.match(sentences[0]) is not None


def _bare_disclaimer(sentence: str) -> bool:
    found = _NOT_IN_DOCUMENTS.match(sentence)
    if found is None:
        return False
    end = found.end()
    return bool(_BARE_TAIL.fullmatch(sentence, end) or _WHOLE_QUESTION.match(sentence, end))


def mentions_not_in_documents(text: str) -> bool:
    """Whether an answer that does not open with a disclaimer later says, bare, that the
    documents do not say ("… [1]. The documents do not say."): it answers and disclaims at
    once (*mixed*). A sentence naming what the documents leave out ("The sources do not say
    how long it takes.") is a precise answer, not a disclaimer.
    """
    sentences = _normalised_sentences(text)
    return not says_not_in_documents(text) and any(_bare_disclaimer(s) for s in sentences[1:])
