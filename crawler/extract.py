"""One-time codes and sending services from the text of public-inbox SMS.

Pure: no IO, no clock; stdlib `re` and `unicodedata` only. Both functions accept any str
and never raise. Every regex is compiled at import: the archive re-extracts millions of
stored messages, so per-message work is a handful of linear scans.

How a code is chosen (`extract_code`):
1. Normalise: NFKC (full-width digits and colons, NBSP) plus any remaining Unicode
   decimal digit (Arabic-Indic, Devanagari, Thai ...) mapped to ASCII.
2. Candidates: digit runs shaped like codes (4-8 digits, `123-456`, `123 456`,
   `1 2 3 4 5 6`) and upper-case letter+digit tokens (only when directly labelled).
3. Each candidate is vetoed by its immediate context - currency, `#`, `+`, decimal or
   date neighbours, units ("10 minutes"), URLs - or by a negative word ("order",
   "ending", "balance", "STOP to" ...) that sits closer to it than any code keyword.
4. The survivor closest to a code keyword (any of ~20 languages) wins; a keyword to the
   right costs a little more than one to the left ("Code: 1234" beats "1234 ... code").
   No keyword nearby means no code: precision matters more than recall for an archive.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from functools import lru_cache

__all__ = ["detect_service", "extract_code"]

# Code keywords. Latin words need a left word boundary but may carry suffixes
# (kodunuz, códigos) and, for "code", compound prefixes (Bestätigungscode, passcode).
# Scripts that glue words or particles (CJK, Thai, Arabic) match as plain substrings.
_KEYWORD = re.compile(
    r"(?<![^\W\d_])(?:(?P<cw>[^\W\d_]*code)[^\W\d_]*"
    r"|c[oó]dig[oa]s?|codice|codul|kod[^\W\d_]*|otp|pin(?![^\W\d_])|passwor[dt]|kennwort"
    r"|mot de passe|contrase[ñn]a|senha|clave|sandi|[şs]ifre[^\W\d_]*|parol[^\W\d_]*"
    r"|v[eé]rif[^\W\d_]*|confirm[^\W\d_]*|conferma|best[äa]tigung[^\W\d_]*"
    r"|do[ğg]rulama|onay|authenti[^\W\d_]*|autenti[^\W\d_]*|2fa|one[- ]?time"
    r"|log[- ]?in|sign[- ]?in|m[ãa] (?:otp|x[áa]c|b[ảa]o)|x[áa]c (?:minh|nh[ậa]n|th[ựu]c)"
    r"|m[ậa]t kh[ẩa]u|код[^\W\d_]*|парол[^\W\d_]*|подтвер[^\W\d_]*|підтвер[^\W\d_]*"
    r"|κωδικ[^\W\d_]*|קוד|סיסמ[^\W\d_]*)"
    r"|رمز|الرمز|كود|تحقق|التحقق|کد|كلمة المرور|รหัส|कोड|ओटीपी|सत्यापन|पासवर्ड|কোড"
    r"|コード|認証|暗証|パスワード|ワンタイム|인증|코드|비밀번호"
    r"|验证码|驗證碼|校验码|校驗碼|动态码|動態碼|验证|驗證|确认码|確認碼|密码|密碼|认证|登录",
    re.IGNORECASE,
)
# "...code" words that are not about one-time codes.
_NOT_CODE_WORDS = frozenset(
    "decode encode barcode zipcode postcode qrcode unicode opcode sourcecode promocode "
    "geocode".split()
)
_NOT_CODE_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:promo|coupon|discount|voucher|referral|invite|invitation|gift|zip|post|"
    r"reference|ref|tracking|booking|order|pickup|door|"
    r"area|country|dial|swift|sort|source|qr|promocional|descuento|cupom|cupón|rabatt|"
    r"gutschein|промо|купон|скидк)[^\W\d_]*[\s-]*\Z",
    re.IGNORECASE,
)
# Words meaning "the number after me is not a code". Only vetoes when it is closer to
# the candidate than the nearest code keyword on the left.
_NEGATIVE = re.compile(
    r"(?<![^\W\d_])(?:orders?|tracking|track|shipment|parcel|invoice|ref|reference|"
    r"ticket|booking|account|acct|a/c|ending|ends|balance|bal|amount|total|paid|charged|"
    r"price|cost|fee|call|phone|tel|mobile|contact|stop|reply|text|dial|ext|id|"
    r"user(?:name)?|member|customer|client|case|claim|policy|loan|card|serial|imei|pnr|"
    r"flight|room|seat|gate|version|build|no\.|nr\.?|n°|№|заказ[^\W\d_]*|сч[её]т[^\W\d_]*|"
    r"карт[^\W\d_]*|баланс|сумм[^\W\d_]*|pedido|orden|saldo|cuenta|tarjeta|cart[ãa]o|"
    r"conta|bestellung|konto|karte|commande|compte|carte|solde|sipari[şs]|bakiye|hesap|"
    r"kart|đơn hàng|số dư|tài khoản|pesanan|rekening|طلب|رصيد|حساب)(?![^\W\d_])"
    r"|订单|訂單|余额|餘額|账户|帳戶|尾号|尾號|注文|残高|주문|잔액|계좌",
    re.IGNORECASE,
)
# Digit runs joined by single spaces/hyphens; the shape decides later whether it is a code.
# Both open with a character class and check the left neighbour after it: a pattern
# that opens with a lookbehind makes `re` try every position instead of scanning in C.
_DIGIT_RUN = re.compile(r"\d(?<![A-Za-z0-9]\d)\d*(?:[ -]\d+)*(?![A-Za-z0-9])")
# A whole run of 4-10 capitals and digits; `_alnum_runs` keeps those holding both.
_ALNUM = re.compile(r"[A-Z0-9](?<![A-Za-z0-9][A-Z0-9])[A-Z0-9]{3,9}(?![A-Za-z0-9])")
_LETTER_RUN = re.compile(r"[A-Z]{4}")
_SPACED_SINGLE = re.compile(r"\d(?: \d){3,7}")
_PAIR = re.compile(r"(\d{3,4})[ -](\d{3,4})|(\d{2,4})-(\d{2,4})")
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")
# Immediately before: currency, hash, plus (phone), asterisk/mask, at, or a digit joined
# by . , : / (decimals, times, dates, versions).
_BAD_BEFORE = re.compile(
    r"(?:\d[.,:/]|[./]|(?:[+#№$€£¥₹₽₺*@^~]|\b(?:rp|rs\.?|inr|usd|eur|idr|rm|tl|us\$|"
    r"sar|aed|thb|vnd|kes|ngn|php|pkr|rub|uah|brl|mxn)|руб\.?)\s?)\Z",
    re.IGNORECASE,
)
# Immediately after: decimals/dates, percent, currency and units of time/quantity.
_BAD_AFTER = re.compile(
    r"\A(?:[.,:/]\d|\s?(?:[%‰$€£¥₹₽₺₫@]|(?:min|mins|minutes?|minutos?|minuten|minuti|"
    r"minut[a-z]*|sec|secs|seconds?|segundos?|hours?|hrs?|horas?|stunden?|saat|dakika|"
    r"phút|giờ|menit|jam|days?|días|dias|tage?n?|gün|ngày|hari|usd|eur|gbp|rub|tl|vnd|"
    r"idr|rp|rs|inr|thb|sar|aed|points|pts|mb|gb|kb|km|kg|miles|руб[a-zа-я.]*|р\.|"
    r"мин[a-zа-я]*|сек[a-zа-я]*|час[a-zа-я]*|дн[a-zа-я]*|хвилин[a-zа-я]*)(?![^\W\d_])"
    r"|นาที|ชั่วโมง|บาท|分|秒|天|日|年|月|元|円|원|분|초|일|년|월|時間|시간|小时|"
    r"دقائق|دقيقة|ساعة|ريال|درهم|جنيه))",
    re.IGNORECASE,
)
_URL_TOKEN = re.compile(r"://|www\.|[a-z0-9-]\.[a-z]{2,}/", re.IGNORECASE)
_GOOGLE_PREFIX = re.compile(r"(?<![A-Za-z0-9])G-(?=\d{4,8}(?!\d))")
# "... is 1234": a copula or colon right before the number ties it to the keyword.
_COPULA_END = re.compile(r"(?:\b(?:is|es|é|est|ist|lautet|adalah|là|era)|[:：为為はคือ]|هو)\s*\Z")
_HAS_DIGIT = re.compile(r"\d")  # a negative word labels only the first number after it
_YEAR = re.compile(r"(?:19|20)\d\d")
_SENTENCE_BREAK = re.compile(r"[.!?。！？\n]\s")
# What may stand between a keyword and an alphanumeric code for it to count as labelled.
_LABEL_GAP = re.compile(
    r"[\s:：=\"'«»“”\[(<-]*(?:(?:is|es|ist|est|é|lautet|adalah|là|:)[\s:：=\"'«»“”\[(<-]*)?",
    re.IGNORECASE,
)

_MAX_GAP = 60  # chars between keyword and code; real OTP texts keep them within a clause
_MAX_SPAN = 160  # longest keyword-to-number stretch looked at ("OTP for <txn details> is")
_RIGHT_COST = 8  # "1234 is your code" is fine, but "Code: 1234" style is stronger
_BREAK_COST = 20  # a sentence boundary between keyword and number weakens the link
_YEAR_COST = 25  # "2026" next to "code" is more often a date than a code


def _normalise(text: str) -> str:
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), 0)), text)


def _shape(run: str) -> str | None:
    """The code a digit run spells, or None if its shape is a phone/date/amount."""
    if run.isdigit():
        return run if 4 <= len(run) <= 8 else None
    if _SPACED_SINGLE.fullmatch(run):
        return run.replace(" ", "")
    m = _PAIR.fullmatch(run)
    if m and (m.group(1) is None or len(m.group(1)) == len(m.group(2))):
        joined = run.replace(" ", "").replace("-", "")
        return joined if 6 <= len(joined) <= 8 else None
    return None


# Speed (the archive extracts every stored message): `re` cannot skip ahead on a big
# alternation that opens with a lookbehind, so it tries every alternative at every
# position. Instead cheap case-sensitive "locators" on the lower-cased text find every
# position where a match can start (a superset) and the exact pattern is tried only
# there, which gives the same matches as `pattern.finditer(text)`. A locator that
# opens with `[\W\d_]` (run on " " + lower) stops only where a word may start, which
# `re` finds with a C-level character-set scan; its hit `h` means a match at h.start().
def _at_word(alternatives: str, before: str = r"[\W\d_]") -> re.Pattern[str]:
    """`[\\W\\d_](?:a|b|...)` with the alternatives grouped by their first character, so
    `re` compares a few first characters per stop instead of entering every branch."""
    groups: dict[str, list[str]] = {}
    for alt in alternatives.split("|"):
        groups.setdefault(alt[0], []).append(alt[1:])
    body = "|".join(f"{re.escape(c)}(?:{'|'.join(rest)})" for c, rest in groups.items())
    return re.compile(rf"{before}(?:{body})")


_KW_AT_WORD = _at_word(
    "c[oó]dig|cod|kod|otp|pin|passwor|kennwort|mot de passe|contrase|senha"
    "|clave|sandi|şifre|sifre|parol|v[eé]rif|confirm|conferma|best[äa]tigung|do[ğg]rulama"
    "|onay|authenti|autenti|2fa|one|log|sign|m[ãa] |x[áa]c |m[ậa]t kh|код|парол|подтвер"
    "|підтвер|κωδικ|קוד|סיסמ"
)
_KW_ANYWHERE = re.compile(
    r"رمز|الرمز|كود|تحقق|التحقق|کد|كلمة المرور|รหัส|कोड|ओटीपी|सत्यापन|पासवर्ड"
    r"|কোড|コード|認証|暗証|パスワード|ワンタイム|인증|코드|비밀번호|验证码|驗證碼|校验码"
    r"|校驗碼|动态码|動態碼|验证|驗證|确认码|確認碼|密码|密碼|认证|登录"
)
_NEG_AT_WORD = _at_word(
    "order|track|shipment|parcel|invoice|ref|ticket|booking|account|acct|a/c"
    "|ending|ends|bal|amount|total|paid|charged|price|cost|fee|call|phone|tel|mobile"
    "|contact|stop|reply|text|dial|ext|id|user|member|customer|client|case|claim|policy"
    "|loan|card|serial|imei|pnr|flight|room|seat|gate|version|build|no\\.|nr|n°|№|заказ"
    "|сч[её]т|карт|баланс|сумм|pedido|orden|saldo|cuenta|tarjeta|cart[ãa]o|conta"
    "|bestellung|konto|karte|commande|compte|carte|solde|sipari[şs]|bakiye|hesap|kart"
    "|đơn hàng|số dư|tài khoản|pesanan|rekening|طلب|رصيد|حساب"
)
_NEG_ANYWHERE = re.compile(
    r"订单|訂單|余额|餘額|账户|帳戶|尾号|尾號|注文|残高|주문|잔액|계좌"
)
# Characters that `re.IGNORECASE` folds differently from str.lower() (İ also changes
# the length); text holding any of them takes the plain `finditer` path.
_FOLD_ODD = re.compile("[ıſµͅιϐϵϑϰϖϱςϕẛﬅﬆ]")


def _letter(c: str) -> bool:
    return c.isalnum() and not c.isdecimal()  # what the patterns spell [^\W\d_]


def _starts(tries: set[int], locate: re.Pattern[str], text: str) -> None:
    q = 0
    while (hit := locate.search(text, q)) is not None:
        tries.add(hit.start())
        q = hit.start() + 1


def _located(
    pattern: re.Pattern[str],
    at_word: re.Pattern[str],
    anywhere: re.Pattern[str],
    text: str,
    low: str | None,
    in_word: str = "",
    *,
    first: bool = False,
) -> list[re.Match[str]]:
    """`list(pattern.finditer(text))`, trying `pattern` only where a locator hits `low`.

    `in_word`: a literal that may also sit inside a match's word (the "...code" words):
    where it occurs, the word's start is tried too.
    """
    if low is None:
        return list(pattern.finditer(text))
    tries: set[int] = set()
    _starts(tries, at_word, " " + low)
    if not low.isascii():  # every `anywhere` literal holds a non-ASCII character
        _starts(tries, anywhere, low)
    if in_word:
        q = 0
        while (p := low.find(in_word, q)) >= 0:
            r = p
            while r and _letter(text[r - 1]):
                r -= 1
            tries.add(r)
            q = p + 1
    found: list[re.Match[str]] = []
    pos = 0
    for p in sorted(tries):
        if p >= pos and (m := pattern.match(text, p)) is not None:
            found.append(m)
            if first:
                break
            pos = m.end()
    return found


def _lower(text: str) -> str | None:
    """`text` lower-cased position for position, or None where that is not exact."""
    low = text.lower()
    if len(low) != len(text) or (not low.isascii() and _FOLD_ODD.search(low)):
        return None
    return low


def _keywords(text: str, low: str | None) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for m in _located(_KEYWORD, _KW_AT_WORD, _KW_ANYWHERE, text, low, "code"):
        cw = m.group("cw")
        if cw is not None and (
            cw.lower() in _NOT_CODE_WORDS
            or _NOT_CODE_BEFORE.search(text, max(0, m.start() - 30), m.start())
        ):
            continue
        starts.append(m.start())
        ends.append(m.end())
    return starts, ends


def _in_url(text: str, s: int, e: int) -> bool:
    lo, hi = max(0, s - 80), min(len(text), e + 80)  # bounded: junk input has no spaces
    left = max(text.rfind(" ", lo, s), text.rfind("\n", lo, s), lo - 1) + 1
    right = min(i if (i := text.find(c, e, hi)) >= 0 else hi for c in " \n")
    return _URL_TOKEN.search(text, left, right) is not None


def _vetoed(text: str, s: int, e: int, value: str, sender_digits: str) -> bool:
    """Context that makes a code-shaped number something else (price, date, phone, URL)."""
    return (
        value == sender_digits  # "Reply STOP to 12345" where 12345 is the sender
        or _BAD_BEFORE.search(text[max(0, s - 6) : s]) is not None
        or _BAD_AFTER.match(text, e, e + 14) is not None
        or _in_url(text, s, e)
    )


def code_and_service(body: str, sender: str) -> tuple[str | None, str | None]:
    """`extract_code` and `detect_service` of one message.

    Inboxes repeat messages verbatim (a resent code, one broadcast to many numbers: a
    quarter of the simulator's rows), so short messages are answered from a small cache;
    the archive extracts every row it stores.
    """
    if len(body) <= _MEMO_CHARS and len(sender) <= _MEMO_CHARS:
        return _code_and_service(body, sender)
    return extract_code(body, sender), detect_service(sender, body)


_MEMO_CHARS = 600  # bounds the cache at a few MB whatever the inboxes hold


@lru_cache(maxsize=8192)
def _code_and_service(body: str, sender: str) -> tuple[str | None, str | None]:
    return extract_code(body, sender), detect_service(sender, body)


def extract_code(body: str, sender: str = "") -> str | None:
    """The one-time code `body` carries, as a user would type it, else None."""
    try:
        return _extract(body, sender)
    except Exception:  # defensive: the archive must keep going on any input
        return None


def _link_cost(gap: str, extra: int) -> int:
    length = len(gap)
    if not extra and _COPULA_END.search(gap):
        length = min(length, 30)  # "OTP for <long txn details> is 123456"
    return length + extra + (_BREAK_COST if _SENTENCE_BREAK.search(gap) else 0)


def _extract(body: str, sender: str) -> str | None:
    text = _normalise(body[:20_000])  # real SMS are < 2 KB; bound the work on junk
    if _HAS_DIGIT.search(text) is None:
        return None  # every candidate (and "G-123456") holds a digit
    low = _lower(text)
    kw_starts, kw_ends = _keywords(text, low)
    google = [m.end() for m in _GOOGLE_PREFIX.finditer(text)] if "G-" in text else []
    if not kw_ends and not google:
        return None  # no code keyword anywhere: an archive prefers a miss to a guess
    neg_ends = [m.end() for m in _located(_NEGATIVE, _NEG_AT_WORD, _NEG_ANYWHERE, text, low)]
    sender_digits = "".join(c for c in _normalise(sender) if c in "0123456789") or "-"
    cands: list[tuple[int, int, str, bool]] = []
    for m in _DIGIT_RUN.finditer(text):
        value = _shape(m.group())
        if value is not None:
            cands.append((m.start(), m.end(), value, False))
    # Random alphanumeric codes rarely hold 4+ letters in a row; WELCOME10, SAVE20 do.
    cands += [
        (m.start(), m.end(), g, True)
        for m in _ALNUM.finditer(text)
        if not (g := m.group()).isdigit() and not g.isalpha() and not _LETTER_RUN.search(g)
    ]
    best: tuple[int, int, str] | None = None
    for s, e, value, alnum in cands:
        if _vetoed(text, s, e, value, sender_digits):
            continue
        i = bisect_right(kw_ends, s) - 1
        left_kw = kw_ends[i] if i >= 0 else -1
        n = bisect_right(neg_ends, s) - 1
        if n >= 0 and neg_ends[n] > left_kw and s - neg_ends[n] <= 25:
            if not _HAS_DIGIT.search(text, neg_ends[n], s):
                continue  # "code for order 1234": the negative word is the nearer label
        score = -50 if s in google else 10**6
        if 0 <= left_kw and s - left_kw <= _MAX_SPAN:
            gap = text[left_kw:s]
            if not alnum or _LABEL_GAP.fullmatch(gap):
                score = min(score, _link_cost(gap, 0))
        j = bisect_left(kw_starts, e)
        if j < len(kw_starts) and kw_starts[j] - e <= _MAX_SPAN and not alnum:
            # letters+digits need a label on the left; digits may have it on the right
            score = min(score, _link_cost(text[e : kw_starts[j]], _RIGHT_COST))
        if _YEAR.fullmatch(value):
            score += _YEAR_COST
        if len(value) == 6:
            score -= 1  # the most common length breaks ties
        if score <= _MAX_GAP and (best is None or score < best[0]):
            best = (score, s, value)
    return best[2] if best else None


# Services as "Canonical=alias,alias; ...". Lower-case aliases match in any case;
# Capitalised ones are also common words ("apple", "steam", "bolt", "signal", "line") so
# they match only as written or in capitals. Never inside a longer word ("applet",
# "Gruberstrasse"). Sender IDs are looked up with the same aliases; "@x" is sender-only.
_SERVICE_TABLE = """
Google=google,gmail,谷歌; WhatsApp=whatsapp,whats app,واتساب; Telegram=telegram
Facebook=facebook,fb; Instagram=instagram
Microsoft=microsoft,msft,outlook,hotmail,xbox,skype; Apple=Apple,icloud; Amazon=Amazon
Uber=Uber; Tinder=tinder; TikTok=tiktok,tik tok; Twitter=twitter; Discord=Discord
PayPal=paypal; Signal=Signal; Viber=viber; WeChat=wechat,weixin,微信; LINE=LINE
Snapchat=snapchat; Yahoo=yahoo; Netflix=netflix; Airbnb=airbnb; Bolt=Bolt; Steam=Steam
OpenAI=openai,chatgpt; Binance=binance; Coinbase=coinbase; Yandex=yandex,яндекс
VK=vkontakte,вконтакте,VK; KakaoTalk=kakaotalk,kakao,카카오; Naver=naver,네이버
Alipay=alipay,支付宝; Taobao=taobao,淘宝; Douyin=douyin,抖音; Tencent=tencent,腾讯,騰訊
JD.com=jd.com,京东; Grab=Grab; Gojek=gojek; Shopee=shopee; Lazada=lazada
Tokopedia=tokopedia; DANA=DANA; Zalo=zalo; Vietcombank=vietcombank; Lyft=lyft
LinkedIn=linkedin; Bumble=bumble; Zoom=Zoom; Truecaller=truecaller; Revolut=revolut
Monzo=monzo; Nubank=nubank; Itaú=itaú,itau; BBVA=bbva; Santander=santander
Barclays=barclays; Chase=@chase,jpmorgan chase; Bank of America=bofa,bank of america
Sberbank=sberbank,сбербанк,сбер; Monobank=monobank; HDFC Bank=hdfc,@hdfcbk
ICICI Bank=icici,@icicib; SBI=SBI,@sbiotp,@sbiinb; Paytm=paytm; Swiggy=swiggy
ICBC=icbc,工商银行; China Merchants Bank=招商银行; KBank=kbank,kasikornbank
Coupang=coupang,쿠팡; Snapp=snapp,اسنپ; Careem=careem; Ozon=ozon; Avito=avito,авито
MTS=MTS; Rappi=rappi; iFood=ifood; Doctolib=doctolib
Poste Italiane=posteid,poste italiane; Deutsche Bahn=deutsche bahn,db navigator
Allegro=Allegro; bol.com=bol.com; Getir=Getir; Trendyol=trendyol; Dropbox=dropbox
DHL=dhl; UPS=UPS; FedEx=fedex; Deliveroo=deliveroo; easyJet=easyjet; Vodafone=vodafone
Sky=@sky,sky.com; Telekom=telekom; Spotify=spotify; Fitbit=fitbit; NHS=NHS; Lyca=lycamobile
Roblox=roblox; Twitch=twitch; Reddit=reddit; eBay=ebay; Anthropic=anthropic
"""
_SERVICES: dict[str, tuple[str, ...]] = {
    name.strip(): tuple(aliases.split(","))
    for line in _SERVICE_TABLE.strip().splitlines()
    for name, aliases in (entry.split("=") for entry in line.split("; "))
}
_ALIAS: dict[str, str] = {}
for _name, _aliases in _SERVICES.items():
    for _a in _aliases:
        _ALIAS[_a.lower().replace(" ", "").lstrip("@")] = _name


def _alias_regex(aliases: list[str], flags: int) -> re.Pattern[str]:
    # Alphabetic scripts with spaces (Latin, Greek, Cyrillic) get word boundaries; CJK,
    # Hangul, Thai and Arabic glue names to particles and prefixes, so they match bare.
    spaced = sorted((a for a in aliases if max(map(ord, a)) < 0x590), key=len, reverse=True)
    glued = sorted((a for a in aliases if max(map(ord, a)) >= 0x590), key=len, reverse=True)
    parts = [r"(?<![^\W_])(?:" + "|".join(map(re.escape, spaced)) + r")(?![^\W_])"]
    if glued:
        parts.append("|".join(map(re.escape, glued)))
    return re.compile("|".join(parts), flags)


_ALL = [a for aliases in _SERVICES.values() for a in aliases if not a.startswith("@")]
_ANY_CASE_ALIASES = [a for a in _ALL if a.islower() or not a.isascii()]
_ANY_CASE = _alias_regex(_ANY_CASE_ALIASES, re.IGNORECASE)
# Locators for _ANY_CASE (see _located): spaced aliases after a non-alphanumeric, glued
# ones anywhere.
_ANY_CASE_AT_WORD = _at_word(
    "|".join(re.escape(a.lower()) for a in _ANY_CASE_ALIASES if max(map(ord, a)) < 0x590), r"[\W_]"
)
_ANY_CASE_ANYWHERE = re.compile(
    "|".join(re.escape(a.lower()) for a in _ANY_CASE_ALIASES if max(map(ord, a)) >= 0x590)
)
_EXACT = _alias_regex(
    [v for a in _ALL if a.isascii() and not a.islower() for v in (a, a.upper())], 0
)
# Brand prefixes that are labels in themselves: "G-123456", "FB-12345".
_PREFIX_BRAND = re.compile(r"(?<![A-Za-z0-9])(G|FB)-\d{4,8}(?!\d)")
# A capitalised brand that opens a sentence and runs on in lower case is a plain word
# ("Grab a coffee?", "Signal is weak"), unless what follows is about codes or accounts.
_SENTENCE_START = re.compile(r"(?:\A|[.!?\n])[\s\"'(]*\Z")
_COMMON_WORD_USE = re.compile(
    r"(?!\s(?:code|verification|security|account|login|pin|otp)\b)\s[a-z]"
)
_DLT_HEADER = re.compile(r"^[A-Z]{2}-(?=[A-Z]{4,})")  # Indian "AD-GOOGLE", "VM-AMAZON"
_MASK = re.compile(r"^([a-z0-9]{4,}?)x{2,}$")  # inboxes mask senders: "FACEBXXX"


def detect_service(sender: str, body: str) -> str | None:
    """Canonical name of the service that sent the message, else None."""
    try:
        return _from_sender(sender[:200]) or _from_body(body)  # [:200]: a bounded cache key
    except Exception:  # defensive: never break the archive on odd input
        return None


@lru_cache(maxsize=4096)  # pure, and inboxes see the same few senders again and again
def _from_sender(sender: str) -> str | None:
    raw = _DLT_HEADER.sub("", unicodedata.normalize("NFKC", sender[:200]).strip())
    key = re.sub(r"[\W_]+", "", raw).lower()
    if not key or key.isdigit():
        return None
    if key in _ALIAS:
        return _ALIAS[key]
    m = _MASK.match(key)
    if m:
        for alias, name in _ALIAS.items():
            if alias.startswith(m.group(1)):
                return name
    return _from_body(raw)


def _plain_word(text: str, hit: re.Match[str]) -> bool:
    return (
        hit.group().istitle()
        and _SENTENCE_START.search(text[max(0, hit.start() - 6) : hit.start()]) is not None
        and _COMMON_WORD_USE.match(text, hit.end()) is not None
    )


def _from_body(body: str) -> str | None:
    text = _normalise(body[:20_000])
    m = _PREFIX_BRAND.search(text)
    if m:
        return "Google" if m.group(1) == "G" else "Facebook"
    exact_hit = next((h for h in _EXACT.finditer(text) if not _plain_word(text, h)), None)
    low = _lower(text)
    any_case = (
        _ANY_CASE.search(text)
        if low is None
        else next(iter(_located(_ANY_CASE, _ANY_CASE_AT_WORD, _ANY_CASE_ANYWHERE, text, low, first=True)), None)
    )
    hits = [h for h in (any_case, exact_hit) if h is not None]
    if not hits:
        return None
    first = min(hits, key=lambda h: h.start())
    return _ALIAS.get(first.group().lower().replace(" ", ""))
