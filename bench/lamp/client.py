#!/usr/bin/env python3
"""bench/lamp's HTTP client side, run by bench/lamp/run on the host or, for the kvm
unikernel, inside its network namespace (`ip netns exec NS python3 client.py ...`):

    client.py load URL N               posts N deterministic entries (JSON API, one keep-alive
                                       connection); prints how many were stored
    client.py check URL TAG            the correctness requests of bench/lamp/run; prints what
                                       each answered, normalised (ids and times dropped), as JSON
    client.py boot URL CPU -- CMD...   spawns CMD on CPU (this process then moves to the other
                                       CPU), polls URL until it answers 200, prints the time from
                                       spawn to that answer in ms and the pid, stops CMD (SIGTERM)
"""
import errno, html as html_mod, http.client, json, os, random, re, select, signal, socket, sys, time, urllib.parse

NAMES = [f"guest{i}" for i in range(50)]
WORDS = ("oasis lamp unikernel guest book hello world page entry <b>bold</b> & \"quoted\" 'single' "
         "storage durable commit network tls image boot café naïve 日本 ✓").split()


def entry(i):
    """The i-th loaded entry: 50 names, messages of 60–300 bytes with characters to escape."""
    rnd = random.Random(i)
    words = []
    while sum(len(w) + 1 for w in words) < rnd.randrange(60, 300):
        words.append(rnd.choice(WORDS))
    return {"name": NAMES[i % len(NAMES)], "message": " ".join(words) + f" #{i}"}


def conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)


def load(url, n):
    c = conn(url)
    stored = 0
    for i in range(n):
        c.request("POST", "/api/entries", json.dumps(entry(i)), {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 201:
            sys.exit(f"load: entry {i}: status {r.status}")
        stored += 1
    print(stored)


def shape(body, ctype):
    """A JSON body with its ids and times checked and dropped, error texts replaced."""
    if not ctype.startswith("application/json"):
        return None
    v = json.loads(body)

    def strip(e):
        assert isinstance(e.get("id"), int) and e["id"] > 0, e
        assert isinstance(e.get("created"), int), e
        return {k: e[k] for k in sorted(e) if k not in ("id", "created")}

    if "error" in v:
        assert isinstance(v["error"], str) and v["error"], v
        return {"error": "<text>"}
    if "entries" in v:
        return {"entries": [strip(e) for e in v["entries"]]}
    return strip(v)


def check(url, tag):
    name = f"check-{tag}"
    out = []
    c = conn(url)

    def req(label, method, path, body=None, ctype=None):
        headers = {"Content-Type": ctype} if ctype else {}
        if isinstance(body, str):
            body = body.encode()
        c.request(method, path, body, headers)
        r = c.getresponse()
        data = r.read()
        rtype = (r.getheader("Content-Type") or "").split(";")[0].strip()
        if 300 <= r.status < 400 and not data:
            rtype = "(redirect)"  # a type on an empty body is neither here nor there
        rec = {"req": label, "status": r.status, "type": rtype}
        if rtype == "application/json":
            rec["json"] = shape(data, rtype)
        loc = r.getheader("Location")
        if loc:
            rec["location"] = re.sub(r"\d+$", "ID", loc)
        out.append(rec)
        return r.status, data, loc

    j = "application/json"
    f = "application/x-www-form-urlencoded"
    st, data, loc = req("post json", "POST", "/api/entries",
                        json.dumps({"name": f"  {name} ", "message": "hello <b>&amp;\r\nworld\t!\n ",
                                    "extra": [1, 2]}), j)
    first = json.loads(data)["id"] if st == 201 else 0
    req("post json, 64 two-byte characters", "POST", "/api/entries",
        json.dumps({"name": name, "message": "é" * 64}), j)
    req("post json, name 64 characters", "POST", "/api/entries",
        json.dumps({"name": name[:1] * 64, "message": "x"}), j)
    for label, body in (("empty name", {"name": "   ", "message": "m"}),
                        ("name of 65 characters", {"name": "n" * 65, "message": "m"}),
                        ("control character in name", {"name": "a\u0007b", "message": "m"}),
                        ("message of 2001 characters", {"name": "n", "message": "m" * 2001}),
                        ("carriage return in message", {"name": "n", "message": "a\rb"}),
                        ("name not a string", {"name": 5, "message": "m"}),
                        ("message missing", {"name": "n"})):
        req(f"post json, {label}", "POST", "/api/entries", json.dumps(body), j)
    req("post json, not JSON", "POST", "/api/entries", "{name:", j)
    req("post json, not UTF-8", "POST", "/api/entries", b'{"name":"\xff","message":"m"}', j)
    req("post form", "POST", "/entries",
        urllib.parse.urlencode({"name": name, "message": "from the <form> & 'page'"}), f)
    req("post form, empty message", "POST", "/entries", urllib.parse.urlencode({"name": name, "message": ""}), f)
    q = urllib.parse.quote(name)
    req("list by name", "GET", f"/api/entries?name={q}")
    req("list by name, limit 1 page 2", "GET", f"/api/entries?name={q}&limit=1&page=2")
    st, data, _ = req("list, default limit", "GET", "/api/entries")
    if st == 200:
        n = len(json.loads(data)["entries"])
        out.append({"req": "list, default limit: count", "count": n})
    for bad in ("limit=0", "limit=101", "limit=x", "page=0", "page=-1"):
        req(f"list, {bad}", "GET", f"/api/entries?{bad}")
    req("one entry", "GET", f"/api/entries/{first}")
    req("no such entry", "GET", "/api/entries/999999999")
    st, data, _ = req("page by name", "GET", f"/?name={q}")
    html = data.decode("utf-8", "replace")
    for what, pat in (("list", '<ul id="entries">'),
                      ("entry", r'<li class="entry" id="entry-\d+"><span class="name">' + re.escape(name) + "</span>"),
                      ("time", r'<time datetime="[^"]+">'),
                      ("stylesheet", r'href="/static/style\.css"'), ("script", r'src="/static/app\.js"'),
                      ("post form", r'<form method="post" action="/entries"'),
                      ("name input", r'<input[^>]*name="name"'), ("message box", r'<textarea[^>]*name="message"'),
                      ("search form", r'<form[^>]*method="get"'),
                      ):
        out.append({"req": f"page by name: {what}", "found": bool(re.search(pat, html))})
    # the messages as the page shows them: every < > & " ' escaped (in any of HTML's forms)
    shown = re.findall(r'<p class="message">(.*?)</p>', html, re.S)
    for what, text in (("message escaped", "hello <b>&amp;\nworld\t!"),
                       ("quotes escaped", "from the <form> & 'page'")):
        ok = any(html_mod.unescape(m) == text and not re.search(r"[<>\"']|&(?!#?\w+;)", m) for m in shown)
        out.append({"req": f"page by name: {what}", "found": ok})
    st, data, _ = req("page 1", "GET", "/")
    out.append({"req": "page 1: entries", "count": data.decode("utf-8", "replace").count('<li class="entry"')})
    out.append({"req": "page 1: older link", "found": "older" in data.decode("utf-8", "replace")})
    for bad in ("page=0", "page=x"):
        req(f"page, {bad}", "GET", f"/?{bad}")
    st, data, _ = req("stylesheet", "GET", "/static/style.css")
    out.append({"req": "stylesheet: about 10 KiB", "found": 10000 <= len(data) <= 11000})
    req("script", "GET", "/static/app.js")
    print(json.dumps(out, indent=1))


def poll(url, deadline):
    """Polls url (a fresh connection every ms) until it answers 200; gives the time then."""
    u = urllib.parse.urlsplit(url)
    addr = (u.hostname, u.port or 80)
    req = f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}\r\nConnection: close\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(addr)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        try:
            if not select.select([], [s], [], 0.001)[1] or s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                continue
            s.setblocking(True)
            s.settimeout(2)
            s.sendall(req)
            head = s.recv(64)
            if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
                return time.perf_counter()
            time.sleep(0.0005)
        except OSError:
            pass
        finally:
            s.close()
    return None


def boot(url, cpu, cmd):
    os.sched_setaffinity(0, {cpu})
    t0 = time.perf_counter()
    null = os.open(os.devnull, os.O_WRONLY)
    pid = os.posix_spawnp(cmd[0], cmd, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    os.sched_setaffinity(0, set(range(os.cpu_count())) - {cpu} or {cpu})
    t1 = poll(url, t0 + 20)
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    if t1 is None:
        sys.exit(f"boot: no 200 from {url} within 20 s")
    print(f"{(t1 - t0) * 1e3:.3f}")


def main():
    a = sys.argv[1:]
    if a[:1] == ["load"]:
        load(a[1], int(a[2]))
    elif a[:1] == ["check"]:
        check(a[1], a[2])
    elif a[:1] == ["boot"] and a[3] == "--":
        boot(a[1], int(a[2]), a[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
