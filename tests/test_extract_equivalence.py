"""The fast extractor (locators + exact confirmation) agrees with the frozen reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import extract as fast
from tests import extract_reference as ref
from tests.test_extract import HELD_OUT, ROWS

# Characters where str.lower() and re.IGNORECASE disagree, word breaks, digits, scripts.
_TRICKY = "ıİſϰͅιςΣKé ó.:-/#№°2fa\n0123456789٠١٢ 验证码코드رمزكود"
_WORDS = [
    "code", "Code", "CODE", "passcode", "barcode", "promo code", "OTP", "pin", "PIN",
    "Bestätigungscode", "kodunuz", "şifre", "ŞİFRE", "ı", "İ", "ſ", "order", "ORDER",
    "ref", "no.", "Nr", "a/c", "№", "tracking", "2FA", "one-time", "log in", "sign-in",
    "mã xác", "mật khẩu", "код", "ПАРОЛЬ", "κωδικός", "ΚΩΔΙΚΌΣ", "קוד", "验证码", "인증",
    "Google", "WHATSAPP", "whats app", "Tik Tok", "G-", "123456", "12 34", "Apple",
    "7KX2Q", "AB12CD", "SAVE20", "A1B2C3D4E5F6", "x9Y8", "G-771204", "123-456", "1 2 3 4",
]  # fmt: skip


def _same(body: str, sender: str) -> None:
    expected = ref.extract_code(body, sender), ref.detect_service(sender, body)
    assert (fast.extract_code(body, sender), fast.detect_service(sender, body)) == expected, (body, sender)
    for _ in range(2):  # computed, then (short texts) from the cache of repeats
        assert fast.code_and_service(body, sender) == expected, (body, sender)


def test_labelled_and_held_out_identical() -> None:
    for sender, body, _, _ in ROWS + HELD_OUT:
        _same(body, sender)
        _same(body.upper(), sender)
        _same(body.lower(), sender)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_WORDS), st.text(alphabet=_TRICKY, max_size=6)), max_size=14))
def test_fuzz_identical(parts: list[str]) -> None:
    _same(" ".join(parts), "")
    _same("".join(parts), "Sender")


def test_long_texts_bypass_the_cache() -> None:
    body = "Your verification code is 482913. " + "x" * fast._MEMO_CHARS
    before = fast._code_and_service.cache_info().currsize
    assert fast.code_and_service(body, "Google") == ("482913", "Google")
    assert fast._code_and_service.cache_info().currsize == before


def test_anywhere_locators_hold_only_non_ascii_literals() -> None:
    """`_located` skips the `anywhere` locators on ASCII text; that is exact only so."""
    for locate in (fast._KW_ANYWHERE, fast._NEG_ANYWHERE, fast._ANY_CASE_ANYWHERE):
        for literal in locate.pattern.split("|"):
            assert not literal.isascii(), literal
