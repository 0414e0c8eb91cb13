"""Every proper name a text writes, and whether the data it was written from holds it.

"Use ONLY the data provided" covers names as it covers numbers: a bullet naming a customer,
vendor, team, category, person, repository or file that is in no row of the snapshot is as
false as an invented amount. The model is not trusted to keep to the data; this module reads
the names back out of its text and looks each one up in the snapshot's own strings.

What counts as a name (`candidates`):
- a run of capitalised words (`Acme Corp`, `Jürgen Weiß`, `Coca-Cola`, `O'Neil`), wherever it
  stands, a sentence's first word included: a capitalised word that is an ordinary word of
  English prose, a weekday, a month, a currency code, a word of money reports and their
  title-case headings (`Revenue Surge`) or a common abbreviation such as API (`GENERIC`, plus the
  kind's own vocabulary) is no name, and such words are trimmed off a run's ends
  (`Acme Revenue` is the name `Acme`);
- a quoted phrase of at most four words (`"misc"`, `“Cloud Nine”`), lowercase too;
- an identifier: an email address, an @handle, a URL, a path or repository (`acme/app`,
  `reports/q3.csv`), a file name (`invoice.pdf`), an id with a digit (`INV-0012`, `txn-lax-004533`).

A name is in the data when its words, normalised (NFKC, case-folded, possessive `'s` dropped,
a plural `s` dropped), are a run of consecutive words of one string value of the snapshot
(`Acme` and `Acme GmbH` are in `Acme GmbH`), or when each of its words is a whole value
(`Berlin Marketing`: the team `Berlin` and the category `marketing`); a URL, an email address,
a handle or a file name only in the first way, ordinary words or not. So a near miss fails:
`Acme Corp` is not in `Acme Corporation`, `Globexx` is not `Globex`. Digits alone are the
numbers check's (jobs/numbers.py), not a name. Not seen: names in scripts without letter case
(`佐藤 花子`), and a lowercase name outside quotes (`paid payroll`).

Two options are for a kind whose text and data are both prose (the digest: takeaways on tech
articles and commits, checked against titles, subjects and summaries):
- `ordinary_openers`: the first word of a sentence or clause (at the start, or after `.`, `!`,
  `?`, `:`, `;` or a dash), when it is a plain capitalised word (letters, only the first upper
  case), is an ordinary word and trimmed off its run: such prose opens with words no fixed list
  holds (`Useful for`, `Explains why`, `Cheaper retries`). A one-word name opening a sentence
  (`Kubernetes users ...`) is then not seen; `Grace Hopper asked` still names `Hopper`, and
  `GitHub`, `SMTP` or `ExternalTaskSensor` have a name's marks and stay names.
- `words_anywhere`: a capitalised run or a quotation also passes when each of its words is a
  word of some value, not only a whole value (`SQLite DB` from "a locked SQLite metadata DB"); a
  word no value has still fails (`SQLLite`, `Hopper`), and an identifier (a path, `org/repo`, a
  snake_case word) must still be consecutive words of one value (`acme/web`, `SKILL_DIR`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from agentjobs.lazy_pattern import lazy

NGRAM_MAX = 8  # words of the longest name looked up by index; a longer one is scanned for
QUOTED_MAX = 4  # words: a longer quotation is prose, not a name

# Ordinary words a capitalised word may be without being a name: the words a sentence or a
# bullet starts with, calendar words, currency codes and the vocabulary of money reports.
# Kept explicit so that what passes is reviewable; a kind adds its own prompt's words.
GENERIC = frozenset(
    """
    a about above across after again against ago all almost alone along already also although
    always among an and another any anything approximately are around as at away back based be
    because been before behind being below between beyond both but by can cannot could despite
    did do does done down during each either else even ever every everything except few for from
    further furthermore had has have having he hence her here hers him his how however i if in
    indeed instead into is it its itself just least less like likely many may maybe meanwhile
    might more moreover most mostly much must my near nearly neither never nevertheless next no
    nobody none nor not nothing now of off on once one only onto or other others otherwise our out
    over overall own per perhaps please possibly probably quite rather same several she should
    since so some someone something still such than that the their them then there therefore
    these they this those though through thus to together too toward towards under unless unlike
    unlikely until up upon us very via was we were what whatever when where whereas whether which
    while who whom whose why will with within without would yet you your
    add adjust alert approve ask audit call cancel chase check clarify compare confirm consider
    contact continue dispute double ensure escalate expect explore flag follow investigate keep
    let look make monitor note plan reach reconcile refund remind review revisit see share start
    stop track update validate verify watch worth mail email ping message send tell ring write book
    log raise file submit cover split hold wait reduce cut renew negotiate query request get set
    find dig double-check cross-check match link unlink pause budget forecast expect
    rose fell grew dropped jumped climbed increased decreased declined doubled halved stayed
    remained held moved changed spiked slipped eased recovered rebounded surged soared dipped
    edged went came saw shows showed suggests suggested indicates indicated looks seems appears
    driven led caused compared relative versus vs
    today yesterday tomorrow tonight week weeks weekly weekend weekends day days daily month
    months monthly year years yearly annual quarter quarterly morning afternoon evening night
    hour hours minute minutes last next previous prior current recent recently earlier later
    past early late mid end start beginning first second third fourth fifth final
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri
    sat sun january february march april june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec q1 q2 q3 q4 h1 h2 ytd mtd wow yoy mom utc gmt
    two three four five six seven eight nine ten eleven twelve dozen hundred thousand million
    billion half quarter single multiple several
    big bigger biggest high higher highest low lower lowest large larger largest small smaller
    smallest new old usual unusual unusually normal normally typical typically steady stable flat
    quiet busy strong stronger weak weaker sharp sharply modest minor major significant
    significantly notable notably slight slightly key main good bad positive negative unexpected
    unexpectedly expected possible potential potentially clear clearly consistent consistently
    similar different
    total totals net gross average median mean sum share ratio rate level
    revenue revenues income incomes expense expenses spend spending spent cost costs sale sales
    payment payments paid unpaid pay invoice invoices receipt receipts transaction transactions
    order orders refund refunds charge charges charged fee fees cash cashflow profit profits loss
    losses margin margins budget budgets balance balances amount amounts value values volume
    volumes count counts number numbers figure figures change changes increase increases decrease
    decreases drop drops rise rises growth decline declines spike spikes jump jumps dip dips trend
    trends outflow outflows inflow inflows bill bills billing subscription subscriptions vendor
    vendors supplier suppliers customer customers client clients team teams category categories
    metric metrics data account accounts owner owners finance financial business money overdue
    due duplicate duplicates anomaly anomalies flagged robust z mad tax taxes vat activity record
    records item items entry entries report reports summary action actions risk risks issue issues
    eur usd gbp jpy aud cad chf krw nzd sek nok dkk pln inr cny id ids ok fyi kpi roi n a na tbd
    note important urgent warning attention heads tl dr tldr asap eod eow etc eg ie
    climb rebound weaken strengthen surge dip rise fall grow improve ease soften slide slip slow
    recover accelerate persist return normalise normalize shrink expand widen narrow tick lag
    outpace trail beat miss remain stay hit peak bottom flatten cool lift boost pull push trim
    swing shift turn mover driver outlier slowdown uptick downturn upswing rebound recovery
    pullback setback slump boom bump blip hike squeeze pressure control position supply supplies
    firm solid healthy soft resilient mixed volatile elevated subdued muted lumpy unchanged
    campaign promotion promo season seasonal seasonality holiday demand traffic checkout
    conversion outlook overview highlight recap snapshot insight takeaway observation concern win
    focus priority context bottom line
    pos dns api crm erp sku url web website site online shop store app bank pdf csv sms
    http https www
    """.split()
)

# A word: letters and digits, inner apostrophes, dots and ampersands (O'Neil, U.S, AT&T).
_WORD = lazy(r"[^\W_](?:[\w'\u2019.&]*[^\W_])?")
# Between the words of one capitalised run: a space or a hyphen (Coca-Cola), nothing else.
_RUN_GAP = lazy(r"(?:[ \u00a0]|-)")
_POSSESSIVE = lazy(r"(?<=[^\W_])['\u2019]s\b")
# Straight double quotes, curly double and single quotes, and code spans.
_QUOTED = lazy(
    r"\"([^\"\n]{1,80})\"|\u201c([^\u201d\n]{1,80})\u201d|\u2018([^\u2019\n]{1,80})\u2019|`([^`\n]{1,80})`"
)
_IDENTIFIER = lazy(
    r"https?://[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]"  # a URL
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an email address
    r"|(?<![\w@])@[A-Za-z][\w.-]*\w"  # a handle
    r"|(?<![\w/])[\w.-]*\w/[\w./-]*\w"  # a path or an org/repo
    r"|(?<![\w.])[A-Za-z][\w-]*\.[A-Za-z][A-Za-z0-9]{1,4}(?!\w|\.\w)"  # a file name
    r"|(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+(?![\w-])"  # an id
)
_TOKEN = lazy(r"[^\W_]+")


def tokens(text: str) -> tuple[str, ...]:
    """`text` as the normalised words names are compared by."""
    folded = _POSSESSIVE.sub("", unicodedata.normalize("NFKC", text).casefold())
    words = []
    for word in _TOKEN.findall(folded):
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # "contractor spend" names the category "contractors"
        words.append(word)
    return tuple(words)


@cache
def _generic_tokens() -> frozenset[str]:
    # On first use, not at import: it runs the patterns above, which a DAG parse never needs.
    return frozenset(t for word in GENERIC for t in tokens(word))


def _generic(token: str, extra: frozenset[str]) -> bool:
    return token.isdigit() or token in _generic_tokens() or token in extra


@dataclass(frozen=True)
class Candidate:
    """One name as the text writes it, and how it is matched."""

    text: str
    trim: bool  # generic words at its ends are no part of the name (a capitalised run, a quotation)
    opener: bool = False  # its first word is a plain capitalised word opening a sentence ("Useful")


def _capitalised(word: str) -> bool:
    first = next((ch for ch in word if ch.isalpha()), "")
    return first.isupper()


def _runs(text: str) -> Iterator[tuple[int, str]]:
    """Each run of capitalised words, with where it starts."""
    run: list[re.Match[str]] = []
    for match in _WORD.finditer(text):
        joined = bool(run) and _RUN_GAP.fullmatch(text[run[-1].end() : match.start()]) is not None
        if run and not (joined and _capitalised(match.group())):
            yield run[0].start(), text[run[0].start() : run[-1].end()]
            run = []
        if _capitalised(match.group()):
            run.append(match)
    if run:
        yield run[0].start(), text[run[0].start() : run[-1].end()]


# What may stand before a sentence's or a clause's first word: nothing, the end of a sentence,
# a colon, a semicolon or a dash ("Title — Useful for ..."), with markdown emphasis or an
# opening quote or parenthesis between.
_SENTENCE_END = lazy(r"(?:^|[.!?:;\u2013\u2014])[\s*_(\"\u201c\u2018]*$")


def _plain(word: str) -> bool:
    return word.isalpha() and word[0].isupper() and (len(word) == 1 or word[1:].islower())


def _opener(text: str, start: int, run: str) -> bool:
    """Whether the first word of `run`, at `start`, is a plain capitalised word opening a sentence."""
    first = _WORD.match(run)
    return first is not None and _plain(first.group()) and _SENTENCE_END.search(text[:start]) is not None


def _blanked(match: re.Match[str]) -> str:
    # Same length, so positions stay the text's; no word, and no run continues across it.
    return "\x00" * len(match.group())


def candidates(text: str) -> list[Candidate]:
    """The names `text` writes, in the order they stand: identifiers, quoted phrases, capitalised runs."""
    found: list[tuple[int, Candidate]] = []
    for match in _IDENTIFIER.finditer(text):
        found.append((match.start(), Candidate(match.group(), trim=False)))
    rest = _IDENTIFIER.sub(_blanked, text)  # an identifier is not also read as words
    for match in _QUOTED.finditer(rest):
        phrase = next(g for g in match.groups() if g is not None)
        if len(phrase.split()) <= QUOTED_MAX:
            found.append((match.start(), Candidate(phrase.strip(), trim=True)))
    words = _QUOTED.sub(_blanked, rest)
    for start, run in _runs(words):
        found.append((start, Candidate(run, trim=True, opener=_opener(words, start, run))))
    return [candidate for _, candidate in sorted(found, key=lambda pair: pair[0])]


class Names:
    """The names a text may write: every string value of the data, by its normalised words."""

    def __init__(
        self,
        values: Iterable[str],
        vocabulary: Iterable[str] = (),
        *,
        ordinary_openers: bool = False,
        words_anywhere: bool = False,
    ) -> None:
        self._ngrams: set[tuple[str, ...]] = set()
        self._long: list[tuple[str, ...]] = []
        self._whole: set[tuple[str, ...]] = set()
        for value in set(values):
            words = tokens(value)
            if not words:
                continue
            self._whole.add(words)
            if len(words) > NGRAM_MAX:
                self._long.append(words)
            for size in range(1, min(len(words), NGRAM_MAX) + 1):
                for start in range(len(words) - size + 1):
                    self._ngrams.add(words[start : start + size])
        self.vocabulary = frozenset(w for v in vocabulary for w in tokens(v))
        self.ordinary_openers = ordinary_openers
        self.words_anywhere = words_anywhere
        self._words = {n for n in self._ngrams if len(n) == 1}

    @classmethod
    def of(
        cls,
        data: Any,
        vocabulary: Iterable[str] = (),
        *,
        ordinary_openers: bool = False,
        words_anywhere: bool = False,
    ) -> Names:
        """The names of every string in `data` (e.g. a snapshot as JSON: team, members, rows)."""
        return cls(
            strings_of(data), vocabulary, ordinary_openers=ordinary_openers, words_anywhere=words_anywhere
        )

    def holds(self, words: tuple[str, ...], *, exact: bool = False, anywhere: bool = False) -> bool:
        """Whether `words` are consecutive words of one value, or (unless `exact`) each word is a
        whole value (`anywhere`: a word of any value) or an ordinary word."""
        if words in self._ngrams:
            return True
        if len(words) > NGRAM_MAX and any(_contains(value, words) for value in self._long):
            return True
        single = self._words if anywhere else self._whole
        return not exact and all((w,) in single or _generic(w, self.vocabulary) for w in words)

    def trimmed(self, candidate: Candidate) -> str:
        """The candidate without the generic words at its ends ("Ask Acme Corp" names "Acme Corp")."""
        if not candidate.trim:
            return candidate.text
        words = list(_WORD.finditer(candidate.text))
        if candidate.opener and self.ordinary_openers:
            words = words[1:]
        words = [m for m in words if not self._generic_word(m.group())]
        return candidate.text[words[0].start() : words[-1].end()] if words else ""

    def _generic_word(self, word: str) -> bool:
        return all(_generic(t, self.vocabulary) for t in tokens(word))

    def known(self, name: str, *, exact: bool = False) -> bool:
        """Whether the data holds `name` (`exact`: as consecutive words of one value only)."""
        return self.holds(tokens(name), exact=exact)

    def unknown(self, text: str) -> list[str]:
        """The names of `text` (as written) that no value of the data holds, each once, in order."""
        missing: list[str] = []
        for candidate in candidates(text):
            name = self.trimmed(candidate)
            # A URL, address, handle or file name of ordinary words (reports/q4.csv) is still a
            # name; a plain path or id of them (income/expenses, 7-day) is prose.
            exact = not candidate.trim and any(mark in name for mark in ".@:")
            # Words of a run or a quotation only: a path, a repository or a snake_case identifier
            # is one name, whose words must stand together in the data (acme/web, SKILL_DIR).
            anywhere = self.words_anywhere and candidate.trim and "_" not in name
            if name and name not in missing and not self.holds(tokens(name), exact=exact, anywhere=anywhere):
                missing.append(name)
        return missing


def _contains(value: tuple[str, ...], words: tuple[str, ...]) -> bool:
    return any(value[i : i + len(words)] == words for i in range(len(value) - len(words) + 1))


def strings_of(data: Any) -> Iterator[str]:
    """Every string value in nested dicts and lists (a snapshot's rows, as JSON values)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings_of(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from strings_of(value)
