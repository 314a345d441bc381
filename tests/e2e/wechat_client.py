#!/usr/bin/env python3
"""Independent WeChat test client: plays the WeChat server against mashangd.

Written from shared/notes/wechat.md only, with the Python 3 standard library
and the `openssl` command line for AES (`openssl enc -aes-256-cbc -nopad`).
It deliberately shares no code with mashangd's C implementation, so a bug in
one is caught by the other.

Library use (from an e2e test):

    from wechat_client import WeChatAccount, signed_webhook_headers
    acct = WeChatAccount(token, encoding_aes_key, appid, gh_id="gh_test")
    q, body = acct.text_push("oUser...", "路灯坏了", msg_id=123, safe=True)
    status, reply = acct.post(base_url + "/wechat/main", q, body)
    fields = acct.parse_reply(reply, q)      # decrypts + verifies in safe mode

Self-check (reproduces every test vector of the notes):

    python3 tests/e2e/wechat_client.py
"""

import base64
import hashlib
import hmac
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

BLOCK = 32  # WeChat's PKCS#7 block size (not AES's 16)


# ---- primitives -------------------------------------------------------------

def sha1_sorted(*parts):
    """hex(sha1(concat(sort(parts)))): signature (3 parts) / msg_signature (4)."""
    data = "".join(sorted(str(p) for p in parts)).encode("utf-8")
    return hashlib.sha1(data).hexdigest()


def aes_key(encoding_aes_key):
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    # binascii is lenient about the non-zero spare bits of char 43.
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


def _openssl_aes(key, data, decrypt):
    if len(data) % 16:
        raise ValueError("AES-CBC input must be a multiple of 16 bytes")
    cmd = ["openssl", "enc", "-aes-256-cbc", "-nopad", "-nosalt",
           "-K", key.hex(), "-iv", key[:16].hex()]
    if decrypt:
        cmd.append("-d")
    res = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=False)
    if res.returncode != 0:
        raise RuntimeError("openssl failed: " + res.stderr.decode(errors="replace"))
    return res.stdout


def encrypt(encoding_aes_key, msg, receive_id, random16=None):
    """Safe-mode Encrypt value (base64 str) of `msg` (str or bytes)."""
    key = aes_key(encoding_aes_key)
    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    rnd = random16 if random16 is not None else os.urandom(16)
    if len(rnd) != 16:
        raise ValueError("random prefix must be 16 bytes")
    full = rnd + struct.pack(">I", len(msg)) + msg + receive_id.encode("utf-8")
    pad = BLOCK - len(full) % BLOCK
    full += bytes([pad]) * pad
    return base64.b64encode(_openssl_aes(key, full, False)).decode("ascii")


def decrypt(encoding_aes_key, b64):
    """Returns (msg_bytes, receive_id_str, random16); raises ValueError."""
    key = aes_key(encoding_aes_key)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) < BLOCK or len(raw) % 16:
        raise ValueError("bad ciphertext length %d" % len(raw))
    plain = _openssl_aes(key, raw, True)
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    plain = plain[:-pad]
    (n,) = struct.unpack(">I", plain[16:20])
    if 20 + n > len(plain):
        raise ValueError("bad message length")
    return plain[20:20 + n], plain[20 + n:].decode("utf-8"), plain[:16]


def cdata(text):
    return "<![CDATA[" + str(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def xml_fields(body):
    """Direct children of <xml> as {tag: text}; raises on anything else."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        raise ValueError("DTD in reply")
    root = ET.fromstring(body)
    if root.tag != "xml":
        raise ValueError("root is <%s>, not <xml>" % root.tag)
    return {child.tag: (child.text or "") for child in root}


def build_xml(fields):
    """<xml> from an ordered list of (tag, value); ints stay bare."""
    out = ["<xml>"]
    for tag, value in fields:
        if value is None:
            continue
        inner = str(value) if isinstance(value, int) else cdata(value)
        out.append("<%s>%s</%s>" % (tag, inner, tag))
    out.append("</xml>")
    return "".join(out)


def signed_webhook_headers(secret, body, timestamp=None):
    """Headers for POST /chat/{channel} and /sms/http (spec §3)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode("utf-8"), ts.encode("ascii") + b"." + body,
                   hashlib.sha256).hexdigest()
    return {"X-Mashang-Timestamp": ts, "X-Mashang-Signature": "sha256=" + mac,
            "Content-Type": "application/json"}


def verify_webhook(secret, headers, body, now=None, skew=300):
    """True if headers carry a valid, fresh signature for body (for checking
    mashangd's outbound chat POSTs)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    ts = headers.get("X-Mashang-Timestamp", "")
    sig = headers.get("X-Mashang-Signature", "")
    if not ts.isdigit() or not sig.startswith("sha256="):
        return False
    mac = hmac.new(secret.encode("utf-8"), ts.encode("ascii") + b"." + body,
                   hashlib.sha256).hexdigest()
    now = int(time.time()) if now is None else now
    return hmac.compare_digest(mac, sig[7:].lower()) and abs(now - int(ts)) <= skew


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, body_bytes, headers_dict) without raising on 4xx/5xx."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read(), dict(res.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


# ---- an Official Account as WeChat sees it -----------------------------------

class WeChatAccount:
    def __init__(self, token, encoding_aes_key, appid, gh_id="gh_0123456789ab"):
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.appid = appid
        self.gh_id = gh_id

    # -- query strings
    def _base_query(self, timestamp=None, nonce=None):
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = str(nonce if nonce is not None else int.from_bytes(os.urandom(4), "big"))
        return {"timestamp": ts, "nonce": nonce,
                "signature": sha1_sorted(self.token, ts, nonce)}

    def verify_query(self, echostr="4375120948345356249", timestamp=None, nonce=None):
        """GET /wechat/{account} URL verification; expect echostr back."""
        q = self._base_query(timestamp, nonce)
        q["echostr"] = echostr
        return q

    # -- message bodies
    def text_xml(self, openid, content, msg_id, create_time=None):
        return build_xml([("ToUserName", self.gh_id), ("FromUserName", openid),
                          ("CreateTime", int(create_time or time.time())),
                          ("MsgType", "text"), ("Content", content), ("MsgId", int(msg_id))])

    def event_xml(self, openid, event, event_key=None, ticket=None, create_time=None):
        return build_xml([("ToUserName", self.gh_id), ("FromUserName", openid),
                          ("CreateTime", int(create_time or time.time())),
                          ("MsgType", "event"), ("Event", event),
                          ("EventKey", event_key), ("Ticket", ticket)])

    def push(self, inner_xml, safe=False, compatible=False, timestamp=None, nonce=None,
             receive_id=None, random16=None):
        """(query, body) for POST /wechat/{account}.  safe: ciphertext only;
        compatible: plaintext fields plus Encrypt.  receive_id overrides the
        AppID in the trailer (to test rejection)."""
        q = self._base_query(timestamp, nonce)
        if not (safe or compatible):
            return q, inner_xml
        enc = encrypt(self.encoding_aes_key, inner_xml,
                      self.appid if receive_id is None else receive_id, random16)
        q["encrypt_type"] = "aes"
        q["msg_signature"] = sha1_sorted(self.token, q["timestamp"], q["nonce"], enc)
        if compatible:
            body = inner_xml.replace("</xml>", "<Encrypt>%s</Encrypt></xml>" % cdata(enc))
        else:
            body = build_xml([("ToUserName", self.gh_id), ("Encrypt", enc)])
        return q, body

    def text_push(self, openid, content, msg_id, safe=False, **kw):
        return self.push(self.text_xml(openid, content, msg_id, kw.pop("create_time", None)),
                         safe=safe, **kw)

    def event_push(self, openid, event, event_key=None, ticket=None, safe=False, **kw):
        return self.push(self.event_xml(openid, event, event_key, ticket,
                                        kw.pop("create_time", None)), safe=safe, **kw)

    # -- replies
    def parse_reply(self, body, query=None):
        """Fields of a passive reply.  Empty body / "success" -> {}.  In safe
        mode (query has encrypt_type=aes) the envelope must decrypt, carry
        our AppID and a valid MsgSignature; raises AssertionError otherwise."""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if body in ("", "success"):
            return {}
        outer = xml_fields(body)
        if "Encrypt" not in outer:
            return outer
        ts, nonce = outer.get("TimeStamp", ""), outer.get("Nonce", "")
        assert ts.isdigit() and len(ts) <= 11, "TimeStamp must be seconds: %r" % ts
        want = sha1_sorted(self.token, ts, nonce, outer["Encrypt"])
        assert hmac.compare_digest(want, outer.get("MsgSignature", "")), "bad MsgSignature"
        msg, rid, _ = decrypt(self.encoding_aes_key, outer["Encrypt"])
        assert rid == self.appid, "reply encrypted for %r, not %r" % (rid, self.appid)
        inner = xml_fields(msg)
        inner["_encrypted"] = "1"
        return inner

    @staticmethod
    def post(url, query, body, timeout=10):
        full = url + "?" + urllib.parse.urlencode(query)
        return http("POST", full, body, {"Content-Type": "text/xml"}, timeout)[:2]

    @staticmethod
    def get(url, query, timeout=10):
        return http("GET", url + "?" + urllib.parse.urlencode(query), timeout=timeout)[:2]


# ---- self-check: the notes' vectors ------------------------------------------

TV4_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
TV4_ID = "wx49f0ab532d5d035a"
TV4_ECHOSTR = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
TV4_INBOUND = ("RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
               "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
               "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
               "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
               "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=")
TV4_REPLY = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
             "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
             "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
             "<CreateTime>1411525903</CreateTime>\n</xml>")
TV4_REPLY_ENC = ("9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNc"
                 "BqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY"
                 "0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsV"
                 "bwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAG"
                 "VRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3")
TV5_KEY = "CyjBvGm4tJNmcThkeL5Wajzom4jKlBygKtpTkYeqsnE"
TV5_ENC = ("ZBY4h9SD1Y/v+ighMGU4yHSVWyMuf2UdQQfFuB8S/SY5il9MynR1rtKIJDG871vOqaCs0FVje6bX0VyhvL02PG7F"
           "XjRR+rAyiwVv7T7nBGgamkPeOv4n/jXgFQnY6NEt3Zym09t4aI+21pDcE6uN6JzcC+hxw5sBfVyza3NHyuLiyhva"
           "lsFbasA4HNcnK+4/3eZLMo+e6yvHUsY4WhmZWW5u5mHcDZm1jtI2fUtzod6Sx7PrCOhm+zUO1I98OD0EmICxHHMj"
           "MkGmSFuGhG8vXRKaRavzvV/fkscZK1HjW+XJOV0c9wYDZT+/LTjDS/yx5KkM5lIksiw57DsCro9gvmE1WdvB3bw3"
           "m+5ie2x1ZRSuh6ik1rbMTiXgJXt0MnbV8VsyPe1zhkbug1cwdhT9zcOTieb0oyiIl3wSAEkNNBNBaWB+78V1hM/n"
           "gMoZgKaaasJUCGtPH/rN+YnxGicDOg==")
TV5_MSG = ("<xml><ToUserName><![CDATA[wwedab3d5fc43636d8]]></ToUserName><FromUserName><![CDATA[WangChaoYi]]>"
           "</FromUserName><CreateTime>1623301925</CreateTime><MsgType><![CDATA[text]]></MsgType>"
           "<Content><![CDATA[密文测试]]></Content><MsgId>6972028683187026694</MsgId>"
           "<AgentID>1000005</AgentID></xml>")


def self_check():
    checks = 0

    def ok(cond, what):
        nonlocal checks
        if not cond:
            raise AssertionError(what)
        checks += 1

    # TV-1, TV-2, TV-3: signatures
    ok(sha1_sorted("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696", "TV-1")
    ok(sha1_sorted("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78", "TV-2")
    ok(sha1_sorted("RMNlACHlV5ThzfRlVS4D4", "timestamp", "nonce", "encrypt")
       == "8edac0945683c119ee71c9f6256d76c48aa08a96", "TV-3")

    # TV-4 echostr, both directions
    ok(sha1_sorted("123456", "1411443780", "437374425", TV4_ECHOSTR)
       == "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "TV-4 echostr msg_signature")
    msg, rid, rnd = decrypt(TV4_KEY, TV4_ECHOSTR)
    ok(msg == b"5927782489442352469" and rid == TV4_ID and rnd == b"2304fc2fe146f1f8", "TV-4 echostr decrypt")
    ok(encrypt(TV4_KEY, msg, TV4_ID, rnd) == TV4_ECHOSTR, "TV-4 echostr encrypt")

    # TV-4 inbound, both directions
    ok(sha1_sorted("123456", "1411525903", "461056294", TV4_INBOUND)
       == "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "TV-4 inbound msg_signature")
    msg, rid, rnd = decrypt(TV4_KEY, TV4_INBOUND)
    f = xml_fields(msg)
    ok(rid == TV4_ID and f["FromUserName"] == "messense" and f["Content"] == "test"
       and f["MsgId"] == "4363689963896700987" and f["AgentID"] == "1", "TV-4 inbound decrypt")
    ok(encrypt(TV4_KEY, msg, TV4_ID, rnd) == TV4_INBOUND, "TV-4 inbound re-encrypt")

    # TV-4 deterministic reply
    enc = encrypt(TV4_KEY, TV4_REPLY, TV4_ID, b"1234567890123456")
    ok(enc == TV4_REPLY_ENC, "TV-4 reply encrypt")
    ok(sha1_sorted("123456", "1411525903", "461056294", enc)
       == "407518b7649e86ef23978113f92d27afa9296533", "TV-4 reply MsgSignature")

    # TV-5 WeCom, CJK, pad 24
    ok(sha1_sorted("pcoLldqMu2WQQtYBeDX5HiXPsBFlTnDM", "1623301925", "1624217036", TV5_ENC)
       == "d728d2bea7e28585ebd14eacbd330d84073fe7f1", "TV-5 msg_signature")
    raw = base64.b64decode(TV5_ENC)
    ok(_openssl_aes(aes_key(TV5_KEY), raw, True)[-1] == 24, "TV-5 pad 24")
    msg, rid, rnd = decrypt(TV5_KEY, TV5_ENC)
    ok(len(msg) == 290 and msg.decode() == TV5_MSG and rid == "wwedab3d5fc43636d8", "TV-5 decrypt")
    ok(encrypt(TV5_KEY, msg, rid, rnd) == TV5_ENC, "TV-5 re-encrypt")

    # Non-canonical key char accepted
    ok(len(aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")) == 32, "lenient key")

    # Tampering is detected
    for bad in (TV4_INBOUND[:-4], "not base64!"):
        try:
            decrypt(TV4_KEY, bad)
        except (ValueError, base64.binascii.Error):
            checks += 1
        else:
            raise AssertionError("accepted %r" % bad[:20])

    # Pushes and replies built by this client round-trip through itself
    acct = WeChatAccount("tok", TV4_KEY, TV4_ID, gh_id="gh_test")
    q, body = acct.text_push("o" * 28, "路灯坏了 ]]> 😀", 6972028683187026694, safe=True,
                             timestamp=1700000000, nonce=42)
    ok(q["encrypt_type"] == "aes" and q["signature"] == sha1_sorted("tok", "1700000000", "42"), "safe query")
    env = xml_fields(body)
    ok(q["msg_signature"] == sha1_sorted("tok", "1700000000", "42", env["Encrypt"]), "safe msg_signature")
    inner, rid, _ = decrypt(TV4_KEY, env["Encrypt"])
    f = xml_fields(inner)
    ok(f["Content"] == "路灯坏了 ]]> 😀" and f["MsgId"] == "6972028683187026694", "safe push content")
    q, body = acct.event_push("o" * 28, "subscribe", "qrscene_D0412", "TICKET")
    f = xml_fields(body)
    ok(f["Event"] == "subscribe" and f["EventKey"] == "qrscene_D0412" and "encrypt_type" not in q, "event push")
    q, body = acct.event_push("o" * 28, "SCAN", "D0412", "T", compatible=True)
    f = xml_fields(body)
    ok(f["Event"] == "SCAN" and "Encrypt" in f and q["encrypt_type"] == "aes", "compatible push")
    reply_inner = build_xml([("ToUserName", "o" * 28), ("FromUserName", "gh_test"),
                             ("CreateTime", 1700000000), ("MsgType", "text"), ("Content", "已收到")])
    enc = encrypt(TV4_KEY, reply_inner, TV4_ID)
    reply = build_xml([("Encrypt", enc), ("MsgSignature", sha1_sorted("tok", "1700000000", "42", enc)),
                       ("TimeStamp", 1700000000), ("Nonce", "42")])
    f = acct.parse_reply(reply)
    ok(f["Content"] == "已收到" and f["_encrypted"] == "1", "parse encrypted reply")
    ok(acct.parse_reply(b"") == {} and acct.parse_reply("success") == {}, "empty replies")

    # Webhook signature (same vector as tests/unit/test_signature.c)
    body = '{"user":"u1","text":"你好","id":"m1","time":1700000000}'
    h = signed_webhook_headers("s3cret", body, 1700000000)
    ok(h["X-Mashang-Signature"] ==
       "sha256=b26e04d4f831ea975a90db6ad3d8e60159bafd59ab834400b9c213b64129dfad", "webhook signature")
    ok(verify_webhook("s3cret", h, body, now=1700000300), "webhook verify")
    ok(not verify_webhook("s3cret", h, body, now=1700000301), "webhook stale")
    ok(not verify_webhook("other", h, body, now=1700000000), "webhook bad secret")
    return checks


def smoke(args):
    """One GET verification and one text push against a running mashangd."""
    acct = WeChatAccount(args.token, args.aes_key, args.appid, args.gh_id)
    status, body = acct.get(args.url, acct.verify_query("4375120948345356249"))
    print("GET verify: %d %r" % (status, body[:80]))
    q, body = acct.text_push(args.openid, args.text, int(time.time() * 1000), safe=args.safe)
    status, reply = acct.post(args.url, q, body)
    print("POST text: %d" % status)
    print("reply fields:", acct.parse_reply(reply, q) if status == 200 else reply[:200])
    return 0 if status == 200 else 1


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="WeChat test client; no --url: self-check")
    ap.add_argument("--url", help="e.g. http://127.0.0.1:8080/wechat/main")
    ap.add_argument("--token", default="token")
    ap.add_argument("--aes-key", default=TV4_KEY)
    ap.add_argument("--appid", default="wxappid")
    ap.add_argument("--gh-id", default="gh_0123456789ab")
    ap.add_argument("--openid", default="oTestUser0000000000000000001")
    ap.add_argument("--text", default="幸福路路灯坏了")
    ap.add_argument("--safe", action="store_true", help="encrypt_type=aes")
    a = ap.parse_args()
    if a.url:
        sys.exit(smoke(a))
    n = self_check()
    print("wechat_client self-check: %d checks passed" % n)
    sys.exit(0)
