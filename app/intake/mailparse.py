"""One e-mail as it arrived, read for the triage queue: sender, recipients, subject, a plain-text
body and the attached files. Japanese mail is decoded as Japanese mail really is (ISO-2022-JP with
Microsoft's extra characters, Shift_JIS, EUC-JP, raw 8-bit headers); whatever cannot be read is
recorded as a problem, never a reason to drop the message. No database, no Flask: bytes in, a
`ParsedMail` out.
"""
from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import Compat32
from email.utils import getaddresses, parseaddr

import nh3

from app.intake.services import Attachment

NO_SUBJECT = "(件名なし)"
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")
RAW_FILENAME = "message.eml"
RAW_CONTENT_TYPE = "message/rfc822"
MAX_BODY_CHARS = 100_000
_CP932 = ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932", "x-ms-cp932",
          "ms932")
_EUC_JP = ("euc-jp", "x-euc-jp", "eucjp", "cseucpkdfmtjapanese")
_JIS = ("iso-2022-jp", "csiso2022jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3", "iso-2022-jp-2004")
_GUESSES = ("utf-8", "cp932", "euc_jp")
_BLOCK = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/table|/blockquote|/pre|hr)\b[^>]*>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _RawHeaders(Compat32):
    """Header values as they are on the wire (8-bit bytes surrogate-escaped), for decode_header_value."""

    def header_fetch_parse(self, name, value):
        return value


RAW_HEADERS = _RawHeaders()


@dataclass
class ParsedMail:
    raw: bytes | None           # None when too large to keep as evidence
    size: int
    sha256: str
    message_id: str             # the Message-ID, or "sha256:<hex>" when there is none
    subject: str
    sender: str | None          # the From address
    sender_name: str
    recipients: list[str]       # lower-cased addresses of To, Cc, Delivered-To, X-Original-To
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.subject or NO_SUBJECT

    @property
    def display_sender(self) -> str | None:
        """The From as people read it: "佐藤 花子 <sato@city.example.jp>" (at most 320 characters)."""
        if not self.sender:
            return None
        named = f"{self.sender_name} <{self.sender}>" if self.sender_name else self.sender
        return named if len(named) <= 320 else self.sender

    @property
    def flag_reason(self) -> str | None:
        return "; ".join(self.problems)[:500] or None

    def evidence(self) -> list[Attachment]:
        """The original message first, then each attached file."""
        kept = [Attachment(RAW_FILENAME, RAW_CONTENT_TYPE, self.raw, f"受信したメールの原本（Message-ID: {self.message_id[:300]}）")] \
            if self.raw is not None else []
        return kept + self.attachments

    def degraded(self, problem: str) -> ParsedMail:
        """The same message reduced to what cannot fail: headers and the original, no parts."""
        return ParsedMail(self.raw, self.size, self.sha256, self.message_id, self.subject, self.sender, self.sender_name,
                          self.recipients, "", [], self.problems + [problem])


# --- decoding -------------------------------------------------------------------------------

def clean(text: str) -> str:
    """No NUL or other control characters (PostgreSQL refuses NUL; none belongs in a report)."""
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")  # undecoded header bytes
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _jis_via_cp932(data: bytes) -> str:
    """ISO-2022-JP as Outlook and most Japanese mailers write it (CP50220): JIS X 0208 plus the
    NEC rows (①, ㈱, Ⅲ …) and half-width katakana, which the strict codec refuses. Each JIS pair is
    turned into its Shift_JIS bytes and the whole decoded as CP932."""
    out, mode, i = bytearray(), "ascii", 0
    while i < len(data):
        if data[i] == 0x1B:
            seq = data[i + 1:i + 3]
            if seq in (b"$B", b"$@"):
                mode, i = "kanji", i + 3
                continue
            if seq in (b"(B", b"(J"):
                mode, i = "ascii", i + 3
                continue
            if seq == b"(I":
                mode, i = "kana", i + 3
                continue
            raise ValueError("unknown ISO-2022-JP escape")
        byte = data[i]
        if byte in (0x0A, 0x0D):
            out.append(byte)
            i += 1
        elif mode == "kanji":
            if i + 1 >= len(data):
                raise ValueError("truncated JIS pair")
            j1, j2 = byte, data[i + 1]
            if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                raise ValueError("not a JIS pair")
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = (j2 + 0x1F + (j2 >= 0x60)) if j1 % 2 else j2 + 0x7E
            out += bytes((s1, s2))
            i += 2
        else:
            out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
            i += 1
    return out.decode("cp932")


def _decode_as(data: bytes, name: str) -> str:
    if name == "iso-2022-jp":
        try:
            return data.decode("iso2022_jp")
        except UnicodeDecodeError:
            try:
                return _jis_via_cp932(data)
            except (ValueError, UnicodeDecodeError):
                return data.decode("iso2022_jp_2004")
    if name == "euc_jp":
        try:
            return data.decode("euc_jp")
        except UnicodeDecodeError:
            return data.decode("euc_jis_2004")
    return data.decode(name)


def _codec_for(charset: str | None) -> str | None:
    label = (charset or "").strip().strip('"').lower()
    if not label:
        return None
    if label in _CP932:
        return "cp932"
    if label in _EUC_JP:
        return "euc_jp"
    if label in _JIS:
        return "iso-2022-jp"
    if label in ("us-ascii", "ascii"):
        return "utf-8"  # 8-bit bytes under a us-ascii label are almost always UTF-8
    return label


def decode_bytes(data: bytes, charset: str | None, what: str) -> tuple[str, str | None]:
    """Text and, when it had to be guessed or could not be read, the problem to flag."""
    name = _codec_for(charset)
    if name is not None:
        try:
            return _decode_as(data, name), None
        except (LookupError, UnicodeDecodeError, ValueError):
            pass
    if data.isascii() and b"\x1b" not in data:
        return data.decode("ascii"), None
    candidates = (("iso-2022-jp",) if b"\x1b$" in data else ()) + _GUESSES
    for guess in candidates:
        try:
            text = _decode_as(data, guess)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
        if name is None and guess == "utf-8":
            return text, None  # undeclared UTF-8 (RFC 6532 headers, lazy mailers): nothing to flag
        declared = f"宣言された文字コード {charset} では" if charset else "文字コードの宣言がなく、"
        return text, f"{what}: {declared}読めないため {guess} と推定して読みました"
    return data.decode("utf-8", errors="replace"), f"{what}: 文字コード（{charset or '宣言なし'}）を解読できません（置換文字を含みます）"


def decode_header_value(value: str | None, what: str) -> tuple[str, str | None]:
    """A header's text: MIME encoded-words decoded by their charset, raw 8-bit bytes guessed."""
    if not value:
        return "", None
    value = re.sub(r"\r?\n[ \t]", " ", value)
    try:
        pieces = decode_header(value)
    except Exception:  # noqa: BLE001 - a broken encoded-word: read the header as it stands
        pieces = [(value, None)]
    parts, problem = [], None
    for piece, charset in pieces:
        if isinstance(piece, str):
            piece = piece.encode("ascii", "surrogateescape")
        text, issue = decode_bytes(piece, charset, what)
        parts.append(text)
        problem = problem or issue
    return clean("".join(parts)).strip(), problem


def html_to_text(markup: str) -> str:
    """Text of an HTML body: line breaks kept at block ends, every tag and script dropped by nh3."""
    markup = _BLOCK.sub(lambda m: "\n" + m.group(0), markup)
    text = html.unescape(nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "title", "head"}))
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- the message ----------------------------------------------------------------------------

def _message_id(value: str | None, sha: str) -> str:
    mid = re.sub(r"\s+", "", value or "")
    if not mid:
        return f"sha256:{sha}"
    if len(mid) <= 500 and mid.isascii() and mid.isprintable():
        return mid
    return f"sha256:{hashlib.sha256(mid.encode('utf-8', 'surrogatepass')).hexdigest()}"  # still the same each delivery


def _head(headers: Message, raw: bytes | None, size: int, sha: str) -> ParsedMail:
    problems: list[str] = []
    subject, issue = decode_header_value(headers.get("Subject"), "件名")
    problems += [issue] if issue else []
    name, address = parseaddr(headers.get("From") or "")
    sender_name, issue = decode_header_value(name, "差出人")
    problems += [issue] if issue else []
    address = clean(address).strip()
    if "@" not in address:
        problems.append("差出人（From）がないか読めません")
        address = ""
    values = [v for h in RECIPIENT_HEADERS for v in (headers.get_all(h) or []) if isinstance(v, str)]
    recipients = list(dict.fromkeys(clean(a).strip().lower() for _, a in getaddresses(values) if "@" in a))
    return ParsedMail(raw, size, sha, _message_id(headers.get("Message-ID"), sha), subject[:500], address[:320] or None,
                      sender_name[:200], recipients, "", problems=problems)


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or bool(part.get_param("filename", header="Content-Disposition")) \
        or bool(part.get_param("name")) or part.get_content_maintype() not in ("text", "multipart")


def _filename(part: Message, fallback: str) -> str:
    name = part.get_filename() or ""
    if "=?" in name:
        name, _ = decode_header_value(name, "添付ファイル名")
    return clean(str(name)) or fallback


def _walk(part: Message, found: dict, depth: int = 0) -> None:
    """Fills found["plain"], found["html"] (first inline ones) and found["files"]."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        data = inner.as_bytes(policy=policy.compat32) if isinstance(inner, Message) else part.as_bytes()
        found["files"].append(Attachment(_filename(part, "attached-message.eml"), ctype, data, "メールに添付されたメール"))
        return
    if part.is_multipart():
        found["defects"] += [type(d).__name__ for d in part.defects] + (["TooDeeplyNested"] if depth > 30 else [])
        for sub in part.get_payload() if depth <= 30 else ():
            if isinstance(sub, Message):
                _walk(sub, found, depth + 1)
        return
    data = part.get_payload(decode=True) or b""
    found["defects"] += [type(d).__name__ for d in part.defects]  # after decoding: bad base64 is noted then
    if _is_attachment(part):
        found["files"].append(Attachment(_filename(part, f"attachment-{len(found['files']) + 1}.bin"), ctype, data,
                                         "メールの添付ファイル"))
    elif ctype in ("text/plain", "text/html") and found[ctype[5:]] is None:
        found[ctype[5:]] = (data, part.get_content_charset())


def _parts(raw: bytes, mail: ParsedMail) -> None:
    last_error = None
    for parse_policy in (policy.default, policy.compat32):
        found = {"plain": None, "html": None, "files": [], "defects": []}
        try:
            _walk(BytesParser(policy=parse_policy).parsebytes(raw), found)
        except Exception as exc:  # noqa: BLE001 - try the lenient policy, then the raw text
            last_error = exc
            continue
        break
    else:
        mail.problems.append(f"MIME 構造を解析できません（{type(last_error).__name__}）。本文は原本の文字列です")
        mail.body = decode_bytes(raw, None, "本文")[0]
        return
    if found["defects"]:
        mail.problems.append("MIME 構造に不備があります: " + ", ".join(dict.fromkeys(found["defects"])))
    if found["plain"] is not None:
        text, issue = decode_bytes(found["plain"][0], found["plain"][1], "本文")
    elif found["html"] is not None:
        markup, issue = decode_bytes(found["html"][0], found["html"][1], "本文")
        text = html_to_text(markup)
    else:
        text, issue = "", None
    mail.problems += [issue] if issue else []
    mail.body = text
    mail.attachments = found["files"]


def parse(raw: bytes) -> ParsedMail:
    """The whole message; never raises: what could not be read is in `problems`."""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        mail = _head(BytesHeaderParser(policy=RAW_HEADERS).parsebytes(raw), raw, len(raw), sha)
    except Exception as exc:  # noqa: BLE001 - not even headers: keep the bytes, flag it
        mail = ParsedMail(raw, len(raw), sha, f"sha256:{sha}", "", None, "", [], "",
                          problems=[f"ヘッダーを解析できません（{type(exc).__name__}）"])
    _parts(raw, mail)
    mail.body = clean(mail.body).strip()[:MAX_BODY_CHARS]
    return mail


def parse_oversize(head: bytes, size: int, sha: str, limit: int, raw: bytes | None) -> ParsedMail:
    """A message over the size limit: only its headers are read; `raw` is given when it still fits
    the evidence limit (then it is kept), else the original stays in the mailbox."""
    head = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    try:
        mail = _head(BytesHeaderParser(policy=RAW_HEADERS).parsebytes(head), raw, size, sha)
    except Exception:  # noqa: BLE001
        mail = ParsedMail(raw, size, sha, f"sha256:{sha}", "", None, "", [], "")
    kept = "原本は証拠として保全しました" if raw is not None else "原本は証拠の上限を超えるため、メールボックスに残しています"
    mail.problems.insert(0, f"メールが大きすぎます（{size:,} バイト、上限 {limit:,} バイト）。本文と添付ファイルは取り込んでいません。{kept}")
    return mail


def normalized(text: str) -> str:
    """Full-width letters, digits and hyphens as ASCII (ＡＧＥＯ－２０２６ → AGEO-2026)."""
    return re.sub("[\u2010\u2011\u2012\u2013\u2212]", "-", unicodedata.normalize("NFKC", text))
