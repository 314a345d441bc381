#!/usr/bin/env python3
"""A local fake of WeChat's server APIs (api.weixin.qq.com and
qyapi.weixin.qq.com) for end-to-end tests.  Python 3 standard library only.

Point an account's `api_base` at `fake.base_url`.  Endpoints:

  GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=   (OA classic)
  POST /cgi-bin/stable_token  {"grant_type","appid","secret","force_refresh"}
  POST /cgi-bin/message/custom/send?access_token=
  POST /cgi-bin/message/template/send?access_token=
  GET  /cgi-bin/gettoken?corpid=&corpsecret=                        (WeCom)
  POST /cgi-bin/message/send?access_token=                          (WeCom)

Every request is recorded in `fake.requests` (method, path, query, raw
body, parsed JSON, headers, response).  `fake.fail_next(n, errcode)` makes
the next n message sends answer with that errcode (40001/40014/42001 also
invalidate the current tokens, as a real expiry would, so a client that
"retries" with its cached token fails again).  `fake.user_errors[openid] =
45015` makes custom/send fail for one user every time (outside the 48 h
window) while template sends still work.

    with FakeWeChat(appid="wxapp", secret="sec") as fake:
        ... run mashangd with api_base = fake.base_url ...
        assert fake.sent("custom")[0]["json"]["text"]["content"] == "..."

Self-test: python3 tests/e2e/fake_wechat.py
"""

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    81013: "user & party & tag all invalid",
}
TOKEN_ERRORS = (40001, 40014, 42001)
SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send",
              "/cgi-bin/message/send")
KIND = {"/cgi-bin/message/custom/send": "custom",
        "/cgi-bin/message/template/send": "template",
        "/cgi-bin/message/send": "wecom"}


class FakeWeChat:
    def __init__(self, appid="wxfakeappid000001", secret="fake-secret",
                 corpid="wwfakecorpid00001", corpsecret="fake-corp-secret",
                 host="127.0.0.1", port=0, expires_in=7200):
        self.appid, self.secret = appid, secret
        self.corpid, self.corpsecret = corpid, corpsecret
        self.expires_in = expires_in
        self.lock = threading.Lock()
        self.requests = []          # every request, in arrival order
        self.user_errors = {}       # openid -> errcode for custom/send
        self._failures = []         # [errcode, remaining, paths]
        self._tokens = {}           # token -> (kind, expiry)
        self._stable = None         # current stable_token value
        self._msgid = 3717005636572528642   # > 2**53 on purpose (notes §5.5)
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = None

    # -- lifecycle
    @property
    def base_url(self):
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- test controls
    def fail_next(self, n, errcode, paths=SEND_PATHS):
        """The next n calls to `paths` (default: the message sends) answer
        {"errcode": errcode}.  Queued failures are consumed in order."""
        with self.lock:
            self._failures.append([errcode, n, tuple(paths)])

    def expire_tokens(self):
        """Every issued token becomes invalid (next use -> 42001)."""
        with self.lock:
            for t in self._tokens:
                self._tokens[t] = (self._tokens[t][0], 0)
            self._stable = None

    def sent(self, kind=None):
        """Successful sends ("custom", "template", "wecom" or all)."""
        with self.lock:
            return [r for r in self.requests
                    if r["path"] in KIND and r["response"].get("errcode") == 0
                    and (kind is None or KIND[r["path"]] == kind)]

    def calls(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def reset(self):
        with self.lock:
            self.requests.clear()
            self._failures.clear()
            self.user_errors.clear()

    # -- internals (called with self.lock held)
    def _issue(self, kind):
        token = kind + "_" + os.urandom(24).hex()
        self._tokens[token] = (kind, time.time() + self.expires_in)
        return {"access_token": token, "expires_in": self.expires_in}

    def _check_token(self, query, kind):
        token = query.get("access_token")
        if not token:
            return 41001
        entry = self._tokens.get(token)
        if entry is None or entry[0] != kind:
            return 40001
        if entry[1] <= time.time():
            return 42001
        return 0

    def _injected(self, path):
        for f in self._failures:
            if f[1] > 0 and path in f[2]:
                f[1] -= 1
                if f[0] in TOKEN_ERRORS:
                    for t in self._tokens:
                        self._tokens[t] = (self._tokens[t][0], 0)
                    self._stable = None
                return f[0]
        return 0

    def _route(self, method, path, query, body):
        """Returns the JSON answer for one request (lock held)."""
        if path == "/cgi-bin/token" and method == "GET":
            if query.get("grant_type") != "client_credential":
                return _err(47001)
            if query.get("appid") != self.appid:
                return _err(40013)
            if query.get("secret") != self.secret:
                return _err(40125)
            return self._issue("oa")
        if path == "/cgi-bin/stable_token" and method == "POST":
            if not isinstance(body, dict) or body.get("grant_type") != "client_credential":
                return _err(47001)
            if body.get("appid") != self.appid:
                return _err(40013)
            if body.get("secret") != self.secret:
                return _err(40125)
            # Normal mode: the same token while it is valid (notes §5.2).
            cur = self._stable
            if body.get("force_refresh") or cur is None or self._tokens[cur][1] <= time.time():
                cur = self._issue("oa")["access_token"]
                self._stable = cur
            left = int(self._tokens[cur][1] - time.time())
            return {"access_token": cur, "expires_in": left}
        if path == "/cgi-bin/gettoken" and method == "GET":
            if query.get("corpid") != self.corpid:
                return _err(40013)
            if query.get("corpsecret") != self.corpsecret:
                return _err(40001)
            res = self._issue("wecom")
            res.update(errcode=0, errmsg="ok")
            return res
        if path in KIND and method == "POST":
            kind = "wecom" if path == "/cgi-bin/message/send" else "oa"
            code = self._check_token(query, kind)
            if code:
                return _err(code)
            code = self._injected(path)
            if code:
                return _err(code)
            if body is None:
                return _err(44002)
            if not isinstance(body, dict):
                return _err(47001)
            return self._send(path, body)
        return None

    def _send(self, path, body):
        if path == "/cgi-bin/message/custom/send":
            touser = body.get("touser")
            if not touser:
                return _err(40003)
            if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
                return _err(47001)
            if touser in self.user_errors:
                return _err(self.user_errors[touser])
            return _err(0)
        if path == "/cgi-bin/message/template/send":
            if not body.get("touser"):
                return _err(40003)
            if not body.get("template_id"):
                return _err(40037)
            if not isinstance(body.get("data"), dict):
                return _err(47001)
            self._msgid += 1
            res = _err(0)
            res["msgid"] = self._msgid
            return res
        # WeCom message/send: agentid must be an integer (notes §6.2)
        if not isinstance(body.get("agentid"), int) or isinstance(body.get("agentid"), bool):
            return _err(47001)
        if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
            return _err(47001)
        if not body.get("touser") and not body.get("toparty") and not body.get("totag"):
            return _err(81013)
        self._msgid += 1
        res = _err(0)
        res.update(invaliduser="", invalidparty="", invalidtag="", msgid=str(self._msgid))
        return res

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):   # keep test output clean
                pass

            def _serve(self, method):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                parsed = None
                if raw:
                    try:
                        parsed = json.loads(raw.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError):
                        parsed = "<invalid json>"
                with fake.lock:
                    answer = fake._route(method, url.path, query, parsed)
                    fake.requests.append({
                        "time": time.time(), "method": method, "path": url.path,
                        "query": query, "body": raw, "json": parsed,
                        "headers": dict(self.headers),
                        # WeChat showed \\uXXXX literally for years (notes pitfall 14)
                        "ascii_escaped": b"\\u" in raw,
                        "response": answer if answer is not None else {"http": 404},
                    })
                if answer is None:
                    out, status = b'{"errcode":404,"errmsg":"not found"}', 404
                else:
                    out = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                    status = 200   # WeChat reports errors in the body, with HTTP 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler


def _err(code):
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}


# ---- self-test -----------------------------------------------------------------

def _call(base, method, path, query=None, body=None):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def self_test():
    with FakeWeChat(appid="wxapp", secret="sec", corpid="wwcorp", corpsecret="csec") as fake:
        b = fake.base_url
        # classic token, wrong secret
        _, r = _call(b, "GET", "/cgi-bin/token", {"grant_type": "client_credential", "appid": "wxapp", "secret": "x"})
        assert r["errcode"] == 40125, r
        _, r = _call(b, "GET", "/cgi-bin/token", {"grant_type": "client_credential", "appid": "wxapp", "secret": "sec"})
        classic = r["access_token"]
        assert r["expires_in"] == 7200
        # stable token: same value twice in normal mode, new one on force_refresh
        st = {"grant_type": "client_credential", "appid": "wxapp", "secret": "sec", "force_refresh": False}
        _, r1 = _call(b, "POST", "/cgi-bin/stable_token", body=st)
        _, r2 = _call(b, "POST", "/cgi-bin/stable_token", body=st)
        assert r1["access_token"] == r2["access_token"] and r1["expires_in"] >= 7190, (r1, r2)
        _, r3 = _call(b, "POST", "/cgi-bin/stable_token", body=dict(st, force_refresh=True))
        assert r3["access_token"] != r1["access_token"]
        tok = r3["access_token"]

        text = {"touser": "oUser", "msgtype": "text", "text": {"content": "您的诉求（编号 M1）已转交代表"}}
        path = "/cgi-bin/message/custom/send"
        _, r = _call(b, "POST", path, {"access_token": tok}, text)
        assert r == {"errcode": 0, "errmsg": "ok"}, r
        _, r = _call(b, "POST", path, {"access_token": classic}, text)
        assert r["errcode"] == 0, r
        _, r = _call(b, "POST", path, {"access_token": "bogus"}, text)
        assert r["errcode"] == 40001, r
        _, r = _call(b, "POST", path, None, text)
        assert r["errcode"] == 41001, r

        # 42001 once: the token dies; a retry with the cached token fails,
        # a retry after refreshing succeeds.
        fake.fail_next(1, 42001)
        _, r = _call(b, "POST", path, {"access_token": tok}, text)
        assert r["errcode"] == 42001, r
        _, r = _call(b, "POST", path, {"access_token": tok}, text)
        assert r["errcode"] == 42001, r
        _, r = _call(b, "POST", "/cgi-bin/stable_token", body=st)
        tok = r["access_token"]
        _, r = _call(b, "POST", path, {"access_token": tok}, text)
        assert r["errcode"] == 0, r

        # 45015 / 45047 for the next two sends, then fine
        fake.fail_next(1, 45015)
        fake.fail_next(1, 45047)
        codes = [_call(b, "POST", path, {"access_token": tok}, text)[1]["errcode"] for _ in range(3)]
        assert codes == [45015, 45047, 0], codes

        # per-user window closed: custom fails, template works
        fake.user_errors["oUser"] = 45015
        _, r = _call(b, "POST", path, {"access_token": tok}, text)
        assert r["errcode"] == 45015, r
        tpl = {"touser": "oUser", "template_id": "T1", "client_msg_id": "M1-4",
               "data": {"keyword1": {"value": "M1"}, "keyword2": {"value": "已办结"}}}
        _, r = _call(b, "POST", "/cgi-bin/message/template/send", {"access_token": tok}, tpl)
        assert r["errcode"] == 0 and r["msgid"] > 2 ** 53, r

        # WeCom
        _, r = _call(b, "GET", "/cgi-bin/gettoken", {"corpid": "wwcorp", "corpsecret": "csec"})
        wtok = r["access_token"]
        wmsg = {"touser": "D0412", "msgtype": "text", "agentid": 1000005, "text": {"content": "新诉求 #M1"}}
        _, r = _call(b, "POST", "/cgi-bin/message/send", {"access_token": tok}, wmsg)
        assert r["errcode"] == 40001, r   # an OA token is not a WeCom token
        _, r = _call(b, "POST", "/cgi-bin/message/send", {"access_token": wtok}, dict(wmsg, agentid="1000005"))
        assert r["errcode"] == 47001, r   # agentid must be an integer
        _, r = _call(b, "POST", "/cgi-bin/message/send", {"access_token": wtok}, wmsg)
        assert r["errcode"] == 0 and r["msgid"], r

        status, r = _call(b, "GET", "/cgi-bin/nope")
        assert status == 404

        assert len(fake.sent("custom")) == 4, len(fake.sent("custom"))
        assert len(fake.sent("template")) == 1 and len(fake.sent("wecom")) == 1
        assert fake.sent("custom")[0]["json"]["text"]["content"] == "您的诉求（编号 M1）已转交代表"
        assert not fake.sent("custom")[0]["ascii_escaped"]
        assert len(fake.calls("/cgi-bin/stable_token")) == 4
        return len(fake.requests)


if __name__ == "__main__":
    n = self_test()
    print("fake_wechat self-test: ok (%d requests recorded)" % n)
