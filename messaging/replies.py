"""What an inbound text or a vendor's delivery error asks us to do (pure: no Django).

The SMS vendor API and the outbox call these; they own the ledger writes and the sends.

Replies fall into five kinds (`classify_reply`):
- `opt_out`: the whole message is a carrier STOP-family keyword (STOP, STOPALL, UNSUBSCRIBE,
  CANCEL, END, QUIT, REVOKE, OPTOUT), whatever its case, spacing, punctuation, emoji, accents or
  stretched letters ("S.T.O.P", "stoppp", "Stop please!!"). US carriers opt a number out on exactly
  these, so we never miss one; being stricter than them is the point of the next kind.
- `opt_out_likely`: a longer reply or another language that asks to stop. Two tiers:
  `suppress` (opt out at once, like STOP) when the reply names the act and aims it at this
  person or our texts: remove/unsubscribe/opt me out, take me off your list, stop/quit texting
  me, stop the texts, don't text me, I don't want your texts, no more texts, leave me alone,
  lose my number, "I said STOP", "can you stop", reported/blocked; a STOP keyword as the first or
  last sentence of a longer message ("Stop. Wrong number"); a whole message that can only mean
  stop ("no más", "Alto", "Basta", "Remove", "Knock it off", "退订"); the same requests in
  Spanish, Portuguese, French, Haitian Creole, Vietnamese, Tagalog, Russian, Chinese, Korean.
  `review` (a person decides, the outbox holds the number meanwhile) when the intent is likely
  but not said: wrong number (unless friendly: "wrong number, good luck!"), not interested,
  insults, "who gave you my number", "never signed up", spam, "stop texting my mom", a STOP
  keyword in capitals or as a sentence inside a message, a lone stop-sign emoji.
  A negation just before a request cancels it ("don't remove me", "can't stop laughing");
  a STOP aimed at anything else ("stop this bill", "stop the steal", "stop by the office", the
  "STOP Act") never counts, nor does unsubscribing from email.
- `help`: the whole message is HELP or INFO: send the help text, even to an opted-out number.
- `opt_in`: the whole message is START or UNSTOP, or YES, which re-subscribes only a number that
  opted out (`only_if_opted_out`); from anyone else YES is an answer, not a keyword.
- `other`: everything else goes to the conversation, untouched.

`decide_reply` turns a class and the number's current state into the ledger write and the one
message to send, so a STOP delivered three times opts out and confirms once.

`vendor_error_action` maps a vendor's delivery error code to what it says about the number, the
phone or the message variant; none of them is retried blindly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from messaging.sms_encoding import GSM7, GSM7_BASIC, GSM7_EXTENSION, sms_size


class ReplyKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_OUT_LIKELY = "opt_out_likely"
    HELP = "help"
    OPT_IN = "opt_in"
    OTHER = "other"


@dataclass(frozen=True)
class ReplyClass:
    """A reply's kind and the rule that decided it (kept with the consent event or review item).

    `suppress`: opt the number out now. `review`: a person decides. `keyword`: the carrier keyword
    matched, upper case. `only_if_opted_out`: an opt-in only from a number that is opted out.
    """

    kind: ReplyKind
    rule: str = ""
    keyword: str = ""
    suppress: bool = False
    review: bool = False
    only_if_opted_out: bool = False


OTHER = ReplyClass(ReplyKind.OTHER)

# The carriers' keywords (CTIA's opt-out, help and opt-in sets, as Twilio's defaults list them).
STOP_FAMILY = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
HELP_KEYWORDS = ("HELP", "INFO")
OPT_IN_KEYWORDS = ("START", "UNSTOP")
CONDITIONAL_OPT_IN = ("YES",)
# One-word (or run-together) requests to stop in other languages and in plain English: not
# carrier keywords, but as a whole message they mean nothing else.
STOP_WORDS = (
    "alto", "basta", "yabasta", "para", "parar", "pare", "paren", "detener", "detente",
    "cancelar", "baja", "nomas", "nomore", "stopit", "stopthis", "stopthat", "stopthese",
    "stoptexting", "stopmessaging", "tigil", "tigilna", "sispann", "arret", "arretez", "стоп",
    "хватит", "停止", "td", "그만", "dunglai", "ngung", "unsub", "blocked", "blocking", "remove",
    "delete", "quitit", "cutitout", "knockitoff", "donotdisturb",
)  # fmt: skip
# A STOP keyword standing as a sentence of its own in a longer message (CANCEL, END and QUIT
# are left out: "Cancel. Can't make Saturday" is about a shift, not the texts).
CLAUSE_KEYWORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "REVOKE")

# Words around a keyword that do not change it: "Stop please", "ok STOP", "stop now thanks".
FILLER = frozenset(
    (
        "please", "pls", "plz", "plse", "pleas", "now", "thanks", "thank", "you", "thx", "ty",
        "tks", "asap", "already", "ok", "okay", "k", "just", "and", "right", "immediately", "sir",
        "maam", "por", "favor", "porfavor", "pf", "gracias", "ya",
    )
)  # fmt: skip

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_SQUEEZE = re.compile(r"([^\W\d_])\1+")
# In a pattern, a doubled letter right after a backslash is an escape and a letter ("\bb").
_SQUEEZE_PATTERN = re.compile(r"(?<!\\)([^\W\d_])\1+")
_BREAK = frozenset(".!?;:,\n\r")


def _fold(text: str) -> str:
    """Lower case without accents: fullwidth and styled letters become plain, "đ" "d"."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # NFC again so Hangul syllables, split into jamo by NFKD, are whole for the phrases below.
    return unicodedata.normalize("NFC", text).casefold().replace("đ", "d").translate(_ZERO_WIDTH)


def _squeeze(text: str) -> str:
    """One letter for each run ("stoooop" is "stop"); patterns get the same treatment."""
    return _SQUEEZE.sub(r"\1", text)


def _clauses(text: str) -> list[str]:
    """The folded words of each sentence-like piece, split at punctuation and emoji."""
    pieces, current = [], []
    for ch in _fold(text):
        if ch.isalnum():
            current.append(ch)
        elif ch in "'*\u2019":
            continue  # "don't" is "dont", "f*ck" is "fck"
        elif ch == "#":
            current.append(" number ")  # "wrong #", "lose my #"
        elif ch in _BREAK or unicodedata.category(ch).startswith("S"):
            pieces.append("".join(current))
            current = []
        else:
            current.append(" ")
    pieces.append("".join(current))
    return [" ".join(_squeeze(p).split()) for p in pieces if p.split()]


_FILLER = frozenset(map(_squeeze, FILLER))


def _keyword_form(words: list[str]) -> str:
    """The words without filler at either end, run together ("s t o p", "opt out" count)."""
    start, end = 0, len(words)
    while start < end and words[start] in _FILLER:
        start += 1
    while end > start and words[end - 1] in _FILLER:
        end -= 1
    return _squeeze("".join(words[start:end]).replace("0", "o"))


_SQUEEZED = {
    kind: {_squeeze(k.lower()): k for k in keywords}
    for kind, keywords in (
        (ReplyKind.OPT_OUT, STOP_FAMILY),
        (ReplyKind.HELP, HELP_KEYWORDS),
        (ReplyKind.OPT_IN, OPT_IN_KEYWORDS + CONDITIONAL_OPT_IN),
    )
}
_PRECEDENCE = list(_SQUEEZED)
_STOP_WORDS = frozenset(_squeeze(_fold(w)) for w in STOP_WORDS)
_CLAUSE_KEYWORDS = frozenset(_squeeze(k.lower()) for k in CLAUSE_KEYWORDS)


def _keyword_reply(words: list[str]) -> ReplyClass | None:
    """The carrier keyword the whole message is, if it is one (repeated: "stop stop stop")."""
    form = _keyword_form(words)
    for kind, keywords in _SQUEEZED.items():
        for key, keyword in keywords.items():
            # The keyword, or the keyword again and again ("opt out opt out").
            if form and form == key * (len(form) // len(key)):
                return _keyword_class(kind, keyword)
    # Nothing but keywords of different kinds ("stop unsubscribe", "HELP STOP"): opt-out first.
    core = [w.replace("0", "o") for w in words if w not in _FILLER]
    hits = [(kind, k[w]) for w in core for kind, k in _SQUEEZED.items() if w in k]
    if core and len(hits) == len(core):
        return _keyword_class(*min(hits, key=lambda hit: _PRECEDENCE.index(hit[0])))
    return None


def _keyword_class(kind: ReplyKind, keyword: str) -> ReplyClass:
    rule = f"keyword:{keyword}"
    if kind == ReplyKind.OPT_OUT:
        return ReplyClass(kind, rule, keyword, suppress=True)
    return ReplyClass(kind, rule, keyword, only_if_opted_out=keyword in CONDITIONAL_OPT_IN)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(_SQUEEZE_PATTERN.sub(r"\1", _fold(pattern)))


# Who the request is aimed at when it is this person: them, their number.
_ME = r"(?:me|us|this (?:number|phone|cell)|my (?:number|phone|cell|name|info)(?: number)?)"
# ...or what we send them.
_US = rf"(?:{_ME}|these|this|them)"
_TEXTS = r"(?:texts?|txts?|messages?|msgs?|sms|spam|mensajes?|textos?)"
# A negation just before a request turns it around: "don't remove me", "can't stop".
_NEGATION_PATTERN = (
    r"\b(?:dont|do not|never|not|cant|cannot|wont|will not|didnt|did not|did you|why did|"
    r"have you|no need to|shouldnt|wouldnt|couldnt)\s*(?:\w+\s+)?$"
)
# A STOP aimed at something else ("stop the steal", "stop by", "stop funding...").
_OTHER_OBJECT = (
    r"(?!\s+(?i:the|a|an|this|that|these|those|his|her|their|our|him|them|by|at|[a-z]+ing)\b)"
)
# Asking a friend's phone to stop is not this person opting out ("stop texting my mom").
_NOT_OURS = r"(?! (?:my|his|her|their) (?!number|phone|cell))"

SUPPRESS_RULES: tuple[tuple[str, re.Pattern[str], bool], ...] = tuple(
    (name, _compile(pattern), negatable)
    for name, pattern, negatable in (
        (
            "unsubscribe",
            # Unsubscribing from email says nothing about texts.
            r"(?:\bun ?sub?s?c?ri\w*|\bunsub|\bopt(?:ing|ed)? (?:me )?out)\b"
            r"(?! (?:me )?(?:from )?(?:your |the |all )?(?:emails?|newsletters?|mailing|(?:paper )?"
            r"mail))",
            True,
        ),
        ("cease_and_desist", r"\bcease and desist\b", False),
        ("remove_me", rf"\b(?:remove|delete|erase|unlist)\w* {_ME}\b(?! (?:to|as a)\b)", True),
        (
            "take_me_off",
            rf"\b(?:take|cross|scratch|strike|drop|pull)\w* {_ME} (?:\w+ )?(?:off|out of|from)\b|"
            rf"\b(?:get|leave|keep) {_ME} off\b",
            True,
        ),
        ("off_your_list", r"\boff (?:of )?(?:your|this|the|ur|yalls?) (?:\w+ ){0,2}list", True),
        (
            "stop_texting",
            r"\b(?:stop|quit|cease|stp|halt) (?:\w+ ){0,2}?(?:texting|txting|messaging|msging|"
            r"contacting|spamming|bothering|bugging|harassing|pestering|hounding|blowing up|"
            rf"hitting (?:me|us) up){_NOT_OURS}\b",
            True,
        ),
        (
            # The texts themselves, with at most a determiner and one word before them: "stop
            # the texts", "stop it with these political texts", not "stop sending mixed messages".
            "stop_the_texts",
            r"\b(?:stop|quit|cease|stp|halt|end) (?:it )?(?:with )?(?:all )?(?:the |these |those |"
            rf"this |your |ur |all )?(?:\w+ )?{_TEXTS}\b",
            True,
        ),
        ("make_them_stop", r"\bmake (?:these|this|them|it|the \w+) stop\b", False),
        (
            "stop_sending",
            rf"\b(?:stop|quit|cease) (?:sending|calling|writing|getting|receiving) (?:{_US}|"
            rf"{_TEXTS}|crap|stuff|junk|shit)\b",
            True,
        ),
        (
            "dont_text_me",
            r"\b(?:dont|do not|never|dnt) (?:ever )?(?:(?:call|text|message) (?:or|and|nor) )?"
            r"(?:text|txt|message|msg|contact|sms|bother|"
            r"spam|write|call)\w* (?:me|us|this (?:number|phone)|my (?:phone|number|cell)|again|"
            r"anymore|here|ever)\b(?! a\b| an\b| that\b| back\b| (?:after|before|during|until|"
            r"till)\b)",
            False,
        ),
        ("do_not_contact", r"\bdo not (?:contact|text|call)$", False),
        (
            "dont_send_me",
            rf"\b(?:dont|do not|never) (?:ever )?send (?:me|us|this number)\b|"
            rf"\b(?:dont|do not|no longer) (?:want|need) (?:\w+ ){{0,4}}?{_TEXTS}\b",
            False,
        ),
        ("can_you_stop", r"\b(?:can|could|would|will) (?:you|u|yall) (?:\w+ )?stop$", False),
        (
            "be_removed",
            r"\b(?:want|wants|wanna|asked|ask|like|need|needs|request\w*) (?:\w+ ){0,3}?to be "
            r"(?:removed|taken off|unsubscribed|deleted)\b",
            True,
        ),
        ("no_more_texts", rf"\bno (?:more|mas) (?:\w+ )?{_TEXTS}|\bno more texting\b", False),
        ("enough_texts", rf"\benough (?:with )?(?:the |these |your |all the )?{_TEXTS}", False),
        ("leave_me_alone", r"\bleave (?:me|us) (?:\w+ ){0,2}alone\b|\bleave me be\b", True),
        ("lose_my_number", r"\b(?:lose|forget|delete|erase|remove) (?:my|this) (?:number|#)", True),
        (
            "said_stop",
            r"\b(?:said|say|saying|texted|typed|replied|reply|replying|sent|send|wrote|answered|"
            r"told (?:you|u|yall|y all)(?: to)?|asked (?:you|u)(?: to)?) (?:\w+ ){0,3}?(?:stop|"
            rf"unsubscribe|stopall|optout|opt out){_OTHER_OBJECT}",
            False,
        ),
        (
            "reported",
            r"\breport\w* (?:this |you |u |it )?(?:as |for )?spam\b|\breport\w* (?:you|u|this "
            r"number) to\b|\bblock\w* (?:you|u|this number|your number)\b",
            False,
        ),
        ("get_off_my_phone", r"\bget off my (?:phone|line)\b", False),
        # Spanish
        (
            "es_remove_me",
            r"\b(?:quit|borr|sac|saq|elimin|remuev)\w*(?:me|nos)\b|\bde baja\b|"
            r"\b(?:quit|borr|sac|saq|elimin|remuev)\w* mi (?:numero|nombre)\b",
            False,
        ),
        (
            "es_stop_sending",
            r"\b(?:dejen?|deja|dejar|paren|para|pare|parar) de (?:mandar|enviar|escribir|"
            r"textear|mensajear|molestar|contactar|llamar)\w*",
            False,
        ),
        (
            "es_dont_send",
            r"\bno (?:me |nos )?(?:manden|mande|mandes|envien|envie|envies|escriban|escriba|"
            r"escribas|texteen|contacten|contacte|llamen|molesten|moleste)\w*|"
            rf"\bno (?:enviar|mandar|escribir)\w* (?:\w+ )?{_TEXTS}",
            False,
        ),
        (
            "es_dont_want",
            r"\bno (?:quiero|queremos|deseo) (?:recibir )?(?:mas )?(?:recibir )?(?:sus |estos |"
            r"los )?(?:mensajes|textos|msjs)\b",
            False,
        ),
        ("es_unsubscribe", r"\bdes(?:u|in)s?cri\w*|\bcancelar (?:la |mi )?suscripcion\b", False),
        ("es_leave_me_alone", r"\bdej\w*me en paz\b|\bdejenos en paz\b", False),
        # Portuguese, French, Haitian Creole
        (
            "pt_stop",
            r"\bpar(?:e|em) de (?:enviar|mandar)\w*|\bnao (?:quero|desejo) (?:mais )?(?:receber )?"
            r"(?:mensagens|sms)|\bremov(?:a|am|er)\w* (?:meu numero|me)\b|\bdescadastr\w*",
            False,
        ),
        ("fr_stop", r"\bne m ?envoy\w* plus\b|\bdesabonn\w*|\bdesinscri\w*", False),
        ("ht_stop", r"\bsispann (?:voye|ekri|tekste)\w*|\bpa voye (?:mesaj|tex)\w*", False),
        # Vietnamese (accents folded: "đừng nhắn tin nữa" is "dung nhan tin nua")
        (
            "vi_stop",
            r"\b(?:ngung|dung) (?:nhan tin|gui|lien lac)\w*|\bhuy dang ky\b|\bxoa so\b",
            False,
        ),
        # Tagalog
        (
            "tl_stop",
            r"\b(?:huwag|wag) (?:na )?(?:(?:nyo|niyo|kayong|po|na) )*(?:akong |ako )?(?:i ?text|"
            r"mag ?text|padalhan|tawagan)\w*|\btigil\w*",
            False,
        ),
        # Russian, Chinese, Korean
        ("ru_stop", r"отпи[сш]\w*|не пиш\w* мне|хватит (?:писать|слать)|удалите мой номер", False),
        ("zh_stop", r"退订|取消订阅|不要再发|别再发|停止发送|不要再给我发", False),
        ("ko_stop", r"수신\s?거부|그만\s?보내|보내지\s?마", False),
    )
)

_FRIENDLY = _compile(
    r"\b(?:good luck|best of luck|no worries|no problem|all good|god bless|have a (?:good|great|"
    r"nice)|ill (?:pass|tell|let|vote|forward)|still (?:vote|voting)|voting for|happy to|"
    r"buena suerte)\b"
)

REVIEW_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, _compile(pattern))
    for name, pattern in (
        (
            "wrong_number",
            r"\bwrong (?:number|person|#|num|phone|guy|girl|lady)\b|\bnumero equivocado\b|"
            r"\bno (?:one|body) (?:here )?(?:by|with|named) th(?:at|is) name\b|\bnham so\b|打错",
        ),
        ("not_interested", r"\bnot (?:interested|intrested|intersted)\b|\bno me interesa\b"),
        (
            "insult",
            r"\b(?:fuck|fck|fk|fuk|f|fu|eff|screw|piss|bugger) (?:off|you|u|yourself|yall|y all)\b|"
            r"^(?:fuck you|fu|stfu|go to hell|get lost|bite me|shut up|go away|piss off)\b|"
            r"\bgo to hell\b|\bvete al (?:diablo|carajo)\b|\bchinga tu\b",
        ),
        (
            "where_did_you_get_my_number",
            r"\bwho (?:\w+ )?gave (?:you|u|yall|y all) (?:my|this) (?:number|info|cell|phone)\b|"
            r"\b(?:how|where|why) (?:did|do|does|have) (?:you|u|yall|y all|your \w+) (?:\w+ )?"
            r"(?:get|got|find|found|have)\w* (?:my|this) (?:number|info|cell|phone)\b|"
            r"\bnever (?:signed up|gave (?:you|u|yall) my number|opted in|subscribed|agreed)\b|"
            r"\bdid(?:nt| not) (?:sign up|subscribe|opt in|ask (?:for )?(?:this|these|your|to))\b|"
            r"\bcomo (?:\w+ )?(?:consiguieron|obtuvieron|tienen) mi numero\b",
        ),
        ("spam", r"^(?:this is |is this )?(?:spam|scam)\b|\bthis is spam\b|\bspam$"),
        ("keep_texting", r"\bkeep (?:texting|messaging|sending|bothering) (?:me|us|this)\b"),
        ("tired_of_texts", rf"\b(?:tired|sick) of (?:\w+ ){{0,2}}{_TEXTS}"),
        ("asking_money", r"\b(?:stop|quit) (?:asking|begging) (?:me |us )?(?:for )?(?:money|cash)"),
        # Someone else's phone, or someone answering for them: "stop texting my mom".
        (
            "on_behalf",
            r"\b(?:stop|quit) (?:texting|messaging|contacting|bothering) (?:my|his|her) ",
        ),
    )
)
# A STOP in capitals in a mixed-case message is usually the keyword ("I texted you STOP").
# Not when a capitalized name follows: "the STOP Act" is a bill.
_CAPS_KEYWORD = re.compile(
    rf"\b(?:STOP|STOPALL|UNSUBSCRIBE|OPT ?OUT)\b{_OTHER_OBJECT}(?!\s+[A-Z][a-z])"
)
_STOP_EMOJI = frozenset("🛑⛔🚫✋")
# Whole messages that are likely but not certain.
_REVIEW_WHOLE = {"enough": "enough", "enoughalready": "enough", "dnc": "dnc", "spam": "spam"}


def classify_reply(text: str) -> ReplyClass:
    """The kind of an inbound text; see the module docstring for the rules."""
    clauses = _clauses(text)
    words = " ".join(clauses).split()
    if not words:
        return _emoji_reply(text)
    return (
        _keyword_reply(words)
        or _stop_word_reply(words)
        or _suppress_reply(" ".join(words))
        or _clause_reply(clauses)
        or _review_reply(text, words)
        or OTHER
    )


def _emoji_reply(text: str) -> ReplyClass:
    """A message of stop signs and raised hands only: probably STOP, for a person to confirm."""
    # Skin tones (modifier symbols) and the emoji variation selector do not change the sign.
    signs = {
        ch
        for ch in text
        if not ch.isspace() and ch != "\ufe0f" and unicodedata.category(ch) != "Sk"
    }
    if signs and signs <= _STOP_EMOJI:
        return ReplyClass(ReplyKind.OPT_OUT_LIKELY, "stop_emoji", review=True)
    return OTHER


def _stop_word_reply(words: list[str]) -> ReplyClass | None:
    if _keyword_form(words) in _STOP_WORDS:
        return ReplyClass(ReplyKind.OPT_OUT_LIKELY, "stop_word", suppress=True)
    return None


_NEGATION = _compile(_NEGATION_PATTERN)


def _suppress_reply(joined: str) -> ReplyClass | None:
    for name, pattern, negatable in SUPPRESS_RULES:
        for match in pattern.finditer(joined):
            if negatable and _NEGATION.search(joined[: match.start()]):
                continue
            return ReplyClass(ReplyKind.OPT_OUT_LIKELY, name, suppress=True)
    return None


def _is_stop_clause(clause: str) -> bool:
    form = _keyword_form(clause.split())
    return form in _CLAUSE_KEYWORDS or form in _STOP_WORDS


def _clause_reply(clauses: list[str]) -> ReplyClass | None:
    """STOP as a sentence of its own: at either end it is the request, inside it may be a quote."""
    if len(clauses) < 2:
        return None
    if _is_stop_clause(clauses[0]) or _is_stop_clause(clauses[-1]):
        return ReplyClass(ReplyKind.OPT_OUT_LIKELY, "stop_sentence", suppress=True)
    if any(_is_stop_clause(c) for c in clauses[1:-1]):
        return ReplyClass(ReplyKind.OPT_OUT_LIKELY, "stop_sentence_inside", review=True)
    return None


def _review_reply(text: str, words: list[str]) -> ReplyClass | None:
    joined = " ".join(words)
    rule = _REVIEW_WHOLE.get(_keyword_form(words))
    if rule is None:
        rule = next((name for name, pattern in REVIEW_RULES if pattern.search(joined)), None)
    if rule == "wrong_number" and _FRIENDLY.search(joined):
        return None  # "Wrong number, but good luck!": nothing to stop, staff fix the phone later
    if rule is None and _CAPS_KEYWORD.search(text) and not text.isupper():
        rule = "keyword_in_capitals"
    if rule is None:
        return None
    return ReplyClass(ReplyKind.OPT_OUT_LIKELY, rule, review=True)


@dataclass(frozen=True)
class ReplyDecision:
    """What to do about one reply: a consent event to record, one message to send, a review.

    `record` is "opt_out", "opt_in" or ""; `send` is "opt_out_confirmation", "opt_in_confirmation",
    "help" or "".
    """

    record: str = ""
    send: str = ""
    review: bool = False


def decide_reply(
    reply: ReplyClass, *, is_opted_out: bool, vendor_confirmed: bool = False
) -> ReplyDecision:
    """The ledger write and the reply for `reply` from a number whose state is `is_opted_out`.

    Only a change of state records and confirms, so a STOP repeated (or redelivered) after the
    first changes nothing; `vendor_confirmed` (the vendor already answered the keyword, as
    Twilio's Advanced Opt-Out does) records without sending a second confirmation. Review items
    change nothing until a person decides; the outbox should hold the number meanwhile.
    """
    if reply.suppress:
        if is_opted_out:
            return ReplyDecision()
        return ReplyDecision("opt_out", "" if vendor_confirmed else "opt_out_confirmation")
    if reply.review:
        return ReplyDecision(review=True)
    if reply.kind == ReplyKind.HELP:
        return ReplyDecision(send="help")
    if reply.kind == ReplyKind.OPT_IN and is_opted_out:
        return ReplyDecision("opt_in", "" if vendor_confirmed else "opt_in_confirmation")
    return ReplyDecision()


# --- Vendor delivery errors ---------------------------------------------------------------


class ErrorEffect(StrEnum):
    SUPPRESS_NUMBER = "suppress_number"  # opt the number out (ledger source: vendor block)
    NOT_TEXTABLE = "not_textable"  # a real phone that cannot take texts (landline)
    PHONE_INVALID = "phone_invalid"  # not a working number: fix the voter's phone
    UNREACHABLE = "unreachable"  # handset off or out of coverage: count it, try a later send
    VARIANT_FILTERED = "variant_filtered"  # carriers filtered the content: count on the variant
    UNKNOWN = "unknown"  # nothing known: mark the message, a person looks


@dataclass(frozen=True)
class ErrorAction:
    """What a delivery error means. `permanent`: sending the same thing again fails the same way,
    so no retry; even when False the outbox waits for a later scheduled send, never loops."""

    effect: ErrorEffect
    permanent: bool
    title: str


# Twilio's error dictionary, https://www.twilio.com/docs/api/errors/<code> (titles as there).
TWILIO_ERRORS: dict[str, ErrorAction] = {
    # 21211 "Invalid 'To' Phone Number": not a phone number at all.
    "21211": ErrorAction(ErrorEffect.PHONE_INVALID, True, "Invalid 'To' Phone Number"),
    # 21610: the recipient replied STOP to this sender; Twilio refuses until they send START.
    "21610": ErrorAction(
        ErrorEffect.SUPPRESS_NUMBER, True, "Attempt to send to unsubscribed recipient"
    ),
    # 21614: a valid number that is not a mobile one (a landline).
    "21614": ErrorAction(
        ErrorEffect.NOT_TEXTABLE, True, "'To' number is not a valid mobile number"
    ),
    # 21635: a landline where Twilio does not even try (outside the US, Canada and the UK).
    "21635": ErrorAction(ErrorEffect.NOT_TEXTABLE, True, "'To' number cannot be a landline"),
    # 30003: handset off, no signal or roaming; Twilio itself says a later send may succeed.
    "30003": ErrorAction(ErrorEffect.UNREACHABLE, False, "Unreachable destination handset"),
    # 30004: the recipient or their carrier blocks messages from us: treat as an opt-out.
    "30004": ErrorAction(ErrorEffect.SUPPRESS_NUMBER, True, "Message blocked"),
    # 30005: the number is unknown to the carrier (no longer in service).
    "30005": ErrorAction(ErrorEffect.PHONE_INVALID, True, "Unknown destination handset"),
    # 30006: a landline, or a carrier a short code cannot reach.
    "30006": ErrorAction(ErrorEffect.NOT_TEXTABLE, True, "Landline or unreachable carrier"),
    # 30007: Twilio or the carrier filtered the content as spam or against carrier rules.
    "30007": ErrorAction(ErrorEffect.VARIANT_FILTERED, True, "Message filtered"),
    # 30008: no reason given; retrying blindly is how senders get filtered, so mark it.
    "30008": ErrorAction(ErrorEffect.UNKNOWN, False, "Unknown error"),
}
VENDOR_ERRORS = {"twilio": TWILIO_ERRORS}


def vendor_error_action(provider: str, code: str | int) -> ErrorAction:
    """What `provider`'s delivery error `code` means; an unknown one is UNKNOWN, not a retry."""
    known = VENDOR_ERRORS.get(provider.strip().lower(), {})
    action = known.get(str(code).strip())
    return action or ErrorAction(ErrorEffect.UNKNOWN, False, f"Unknown {provider} error {code}")


# Carrier filtering above this share of a variant's sends pauses the variant for review.
FILTERED_PAUSE_RATE = 0.02
# Below this many sends the share is noise, so the limit is counted as if this many were sent.
FILTERED_MIN_SENT = 100


def should_pause_variant(
    filtered: int,
    sent: int,
    *,
    max_rate: float = FILTERED_PAUSE_RATE,
    min_sent: int = FILTERED_MIN_SENT,
) -> bool:
    """Whether a variant with `filtered` carrier-filtered (30007) of `sent` messages pauses.

    The allowance is `max_rate` of the sends, but never less than `max_rate` of `min_sent`, so
    three filtered of the first ten pause it while one of the first ten does not.
    """
    return filtered > max_rate * max(sent, min_sent)


# --- Help text ----------------------------------------------------------------------------

# Typography phones and word processors add, mapped to GSM-7 so one character does not turn
# the text into UCS-2 (70 characters a segment instead of 160).
_GSM7_SPELLING = str.maketrans(
    {
        "\u2018": "'",  # curly single quotes
        "\u2019": "'",
        "\u201c": '"',  # curly double quotes
        "\u201d": '"',
        "\u2013": "-",  # en and em dashes
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",  # no-break space
    }
)
HELP_MAX_SEGMENTS = 2


def _gsm7(text: str) -> str:
    """`text` in the GSM-7 alphabet: typography mapped, accents outside it dropped ("í" "i")."""
    alphabet = GSM7_BASIC | GSM7_EXTENSION
    out = []
    for ch in " ".join(text.translate(_GSM7_SPELLING).split()):
        if ch not in alphabet:
            ch = "".join(
                c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c)
            )
        out.append(ch)
    return "".join(out)


def help_text(campaign_name: str, contact: str, frequency: str) -> str:
    """The answer to HELP: who we are, how to reach us, how often, rates, how to stop.

    Kept to GSM-7 and at most two segments; raises ValueError when the inputs cannot be.
    """
    parts = {"campaign_name": campaign_name, "contact": contact, "frequency": frequency}
    for name, value in parts.items():
        if not value.strip():
            raise ValueError(f"help text needs a {name}")
    name, contact, frequency = (_gsm7(v).strip().rstrip(".") for v in parts.values())
    text = (
        f"{name}: {frequency}. Help: {contact}. Msg & data rates may apply. Reply STOP to opt out."
    )
    size = sms_size(text)
    if size.encoding != GSM7:
        bad = "".join(ch for ch in text if ch not in GSM7_BASIC | GSM7_EXTENSION)
        raise ValueError(f"help text has characters outside GSM-7: {bad!r}")
    if size.segments > HELP_MAX_SEGMENTS:
        raise ValueError(f"help text takes {size.segments} segments, more than two")
    return text
