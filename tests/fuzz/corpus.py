"""Hostile strings for the fuzz suite: a hand-written corpus and a seeded generator that grows it.

``HOSTILE`` is what an attacker tries first, by family (injection fragments for InfluxQL and SQL,
quoting and escaping, control characters, unicode tricks, huge and odd numbers, RFC 3339 edge
cases, path traversal, template and header injection, over-long values). ``hostile_strings(n)``
returns ``n`` distinct strings: the corpus first, then mutations of it (a fragment glued to a
valid value, wrapped in quotes, repeated, with a NUL or a newline inside, percent-encoded) and
random strings from alphabets chosen to hurt parsers. The same seed gives the same strings, so a
failure names a string that can be sent again.

``JSON_CONFUSION`` holds JSON values of the wrong type for a field that expects a string.
"""

import random
from urllib.parse import quote

# Values a field accepts; a fragment glued to one of them gets past a check that only looks at
# the start (or the end) of the value.
VALID = ("alpha-dev", "cpu/usage_rate", "2026-11-01T00:00:00Z", "7d", "namespace", "1h", "true", "10", "2026-11",
         "node-1", "json")

INJECTION = [
    "' OR 1=1 --", "' OR '1'='1", "\" OR \"1\"=\"1", "x' or namespace =~ /.*/ or 'a'='b",
    "alpha-dev' OR namespace = 'beta-web", "alpha-dev\" OR \"namespace\" = 'beta-web", "beta-web",
    "'; DROP DATABASE \"kubemon_test\"; --", "\"; DROP MEASUREMENT kubernetes_pod_container; --",
    "1; DROP SERIES FROM /.*/", "alpha-dev'; SELECT * FROM /.*/ --",
    "' UNION SELECT * FROM \"kubernetes_pod_container\"",
    "SELECT * FROM \"raw\".\"kubernetes_pod_container\"", "$ns0", "$b", "$e", "$ns0 OR 1=1", "/.*/", "=~ /.*/",
    "!~ /x/", "alpha-dev' AND time > 0 --", "\" GROUP BY *", "LIMIT 1; SHOW DATABASES", "SHOW USERS",
    "CREATE USER x WITH PASSWORD 'y' WITH ALL PRIVILEGES", "GRANT ALL TO x", "KILL QUERY 1",
    "1 OR 1=1", "0x2f2a", "'||(SELECT pg_sleep(5))||'", "1'; SELECT pg_sleep(5); --", "admin'--",
    "\\' OR 1=1 --", "\\\" OR 1=1 --", "%27%20OR%201%3D1", "{\"$ne\": null}", "{\"$gt\": \"\"}",
    "*", "%", "_", "?", "..", ".*", "^.*$", "(?i)alpha", "a{99999}", "(a+)+$",
]
QUOTING = ["'", "\"", "''", "\"\"", "`", "\\", "\\\\", "\\'", "\\\"", "\\n", "\\x00", "\\u0000", "'\"`\\",
           "\\\\\\\"", "alpha-dev\\", "alpha-dev'", "alpha-dev\"", "\"alpha-dev\"", "'alpha-dev'"]
CONTROL = ["\x00", "a\x00b", "alpha-dev\x00", "\x00alpha-dev", "\n", "line\nbreak", "alpha-dev\n", "\r\n",
           "alpha-dev\r\n",
           "\t", "\x0b\x0c", "\x1b[31mred\x1b[0m", "\x7f", "\x08\x08\x08", "\u2028", "\u2029", "\x85", "\ufeff",
           " ", "  ", "", " alpha-dev ", "\talpha-dev"]
UNICODE = ["🚀 日本語", "ａｌｐｈａ-ｄｅｖ", "аlpha-dev", "alpha\u200b-dev", "alpha\u2010dev", "alpha\u2011dev",
           "ALPHA-DEV", "Alpha-Dev", "alpha-dev\u0301", "\u202eved-ahpla", "ﬁ", "ß", "İ", "\U0001f600" * 50,
           "\ud7ff", "\ue000", "\uffff", "\U0010ffff", "٣", "١٢٣", "２０２６-１１", "²", "½", "𝟙𝟚𝟛", "ℌ", "K\u212a"]
NUMBERS = ["0", "-0", "-1", "1e308", "1e309", "-1e309", "1e-400", "NaN", "nan", "-NaN", "Infinity", "-Infinity",
           "inf", "+inf", "9" * 19, "9223372036854775807", "9223372036854775808", "-9223372036854775809",
           "18446744073709551616", "1" * 5000, "0x10", "0b101", "0o17", "1_000", "1.0", "1.", ".5", "+1", "--1",
           "1e3", "١٠", "007", "00000000000000000000001", "4294967296", "2147483648", "-2147483649"]
TIMES = ["1677-09-21", "1677-09-22", "2262-04-11", "2262-04-12", "0000-01-01", "0001-01-01", "9999-12-31",
         "10000-01-01", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "2016-12-31T23:59:60Z",
         "2017-02-29", "2016-02-29", "2017-13-01", "2017-00-10", "2017-12-32", "2017-12-01T24:00:00Z",
         "2017-12-01T00:60:00Z", "2017-12-01T00:00:00+24:00", "2017-12-01T00:00:00-23:59", "2017-12-01T00:00:00+99:99",
         "2017-12-01T00:00:00.1234567891Z", "2017-12-01T00:00:00.Z", "2017-12-01t00:00:00z", "2017-12-01 08:00:00",
         "2017-12-01T08:00:00", "2017-12-01T08:00", "2017-W48-5", "2017-335", "20171201", "2017/12/01",
         "01-12-2017", "Dec 1 2017", "now()", "now() - 1h", "-1h", "0", "1512086400", "1512086400000000000",
         "2017-12-01T00:00:00Z' OR 1=1 --", "2017-12-01\n", "2017-12-01T00:00:00Z,2017-12-02T00:00:00Z",
         "1677-09-22T00:00:00Z,2262-04-10T00:00:00Z", "0,9999999999", "999999w", "999999m offset 999999w",
         "1m offset 0m", "0d", "1d offset -1d", "1h30m", "99999999999999999999h"]
PATHS = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "....//....//etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini",
         "%2e%2e%2f", "%252e%252e%252f", "..\\..\\", "./././", "//", "/", "a/../../b", "cpu/usage_rate/../memory/usage",
         "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "\\\\server\\share", "%00", "%0a", "%ff",
         "%", "%%", "?x=1", "#frag", ";jsessionid=1", "/api/statements"]
TEMPLATES = ["${jndi:ldap://x/a}", "{{7*7}}", "{% debug %}", "<script>alert(1)</script>", "\"><img src=x onerror=1>",
             "javascript:alert(1)", "=cmd|' /C calc'!A0", "+SUM(1,1)", "@SUM(1)", "-2+3", "%s%s%s%n", "%x%x",
             "{0.__class__}", "__import__('os')", "$(id)", "`id`", "; id", "| id", "&& id",
             "x\r\nSet-Cookie: a=b", "x\r\nX-Injected: 1", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM "
             "\"file:///etc/passwd\">]><x>&e;</x>", "null", "None", "undefined", "true", "false", "[]", "{}",
             "[object Object]"]
LONG = ["x" * 10_000, "a" * 64, "a" * 254, "a" * 1025, "-" * 300, "alpha-dev," * 2000, "," * 5000, "'" * 5000,
        "\\" * 4097, "日" * 3000, "[" * 5000, "%00" * 1000]

HOSTILE = INJECTION + QUOTING + CONTROL + UNICODE + NUMBERS + TIMES + PATHS + TEMPLATES + LONG

JSON_CONFUSION = [None, True, False, 0, -1, 1.5, 10**30, -(10**30), 2**63, 1e308, [], {}, ["alpha-dev"],
                  ["alpha-dev", "beta-web"], [["alpha-dev"]], [None], {"$ne": 1}, {"namespace": "beta-web"},
                  {"": ""}, [{"a": 1}], [1, 2, 3], ["x" * 10_000], [[] for _ in range(100)]]

# Alphabets that random strings are drawn from: each is a way to upset a parser or a quoter.
_ALPHABETS = (
    "'\"`\\/;=~*$%&|(){}[]<>!?,.#@^ \t\n\r\x00",  # syntax of InfluxQL, SQL, regexes, shells, URLs
    "abcdefghijklmnopqrstuvwxyz0123456789-.",  # the characters of a valid name
    "0123456789-+:.TZtz ,",  # times and numbers
    "".join(chr(c) for c in range(0, 32)) + "\x7f\x85\xa0\u2028\u2029\ufeff\u200b\u202e",  # control and invisible
    "аеорсхуАЕОРСХ" + "ａｂｃ" + "٠١٢٣٤٥٦٧٨٩" + "日本語🚀😀" + "\U0010ffff\ue000",  # confusables and far planes
)
_WRAPS = ("'{}'", '"{}"', "{}'", "{}\"", "{}\\", "{};", "{}\x00", "\x00{}", "{}\n", " {} ", "{}/*", "({})", "[{}]")


def _mutations(rng, fragment):
    valid = rng.choice(VALID)
    yield valid + fragment
    yield fragment + valid
    yield rng.choice(_WRAPS).format(fragment)
    yield valid + rng.choice(("'", "\"", "\\", "\x00", "\n", "%00", " OR ", ",")) + fragment
    yield fragment * rng.choice((2, 3, 17, 257))
    cut = rng.randrange(len(fragment) + 1)
    yield fragment[:cut] + rng.choice(("\x00", "\n", "'", "\"", "\\", "\u200b", "%")) + fragment[cut:]
    yield quote(fragment, safe="")
    yield fragment.upper()
    yield fragment[::-1]


def _random_string(rng):
    alphabet = rng.choice(_ALPHABETS)
    length = rng.choice((1, 2, 3, 5, 8, 13, 40, 64, 65, 100, 253, 254, 1000))
    return "".join(rng.choice(alphabet) for _ in range(length))


def hostile_strings(count, seed=14):
    """``count`` distinct hostile strings: the corpus, then its mutations, then random ones."""
    rng = random.Random(seed)
    found = dict.fromkeys(HOSTILE)
    fragments = list(HOSTILE)
    while len(found) < count:
        if rng.random() < 0.75:
            for text in _mutations(rng, rng.choice(fragments)):
                found.setdefault(text[:20_000])
        else:
            found.setdefault(_random_string(rng))
    return list(found)[:count]
