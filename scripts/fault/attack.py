#!/usr/bin/env python3
"""Server under attack (issue 15's fault campaign): runs hostile clients against a running
`embers serve` on loopback while a prober times valid requests, and samples the server's RSS.

    python3 scripts/fault/attack.py ADDR PID MODEL TRANSFORMER MAX_BODY [--seconds 60]

Attacks (all bounded in count and time): 1,000 concurrent keep-alive connections sending valid
requests; slowloris on 200 connections (one header byte per second); bodies at, one past and far
past --max-body, lying Content-Length, chunked bodies past the limit; deep JSON; a 10 MB word;
NUL bytes in words and model names; path traversal in model names and asset paths; heavy
requests (unknown words, long transformer texts) beyond the heavy pool's queue.
Prints a JSON summary; exits 1 if the server died, answered a 5xx other than 503, or a valid
request failed.
"""
import asyncio, json, os, sys, time, argparse, statistics

p = argparse.ArgumentParser()
p.add_argument("addr"); p.add_argument("pid", type=int); p.add_argument("model")
p.add_argument("transformer"); p.add_argument("max_body", type=int)
p.add_argument("--seconds", type=float, default=60)
a = p.parse_args()
HOST, PORT = a.addr.rsplit(":", 1); PORT = int(PORT)

stats = {"statuses": {}, "errors": {}, "unexpected": []}

def count(kind, key):
    d = stats[kind]; d[key] = d.get(key, 0) + 1

def rss_kib():
    try:
        for line in open(f"/proc/{a.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None

async def read_response(r):
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    if "content-length" in hdr:
        body = await r.readexactly(int(hdr["content-length"]))
    elif hdr.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await r.readline()).strip(), 16)
            chunk = await r.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await r.read()
    return status, body

def request_bytes(method, path, body=b"", extra=""):
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body

async def one(method, path, body=b"", raw=None, timeout=30, label=None):
    """One request on a fresh connection; records the status; returns (status, body)."""
    label = label or path
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(HOST, PORT), timeout)
        w.write(raw if raw is not None else request_bytes(method, path, body, "Connection: close\r\n"))
        await w.drain()
        st, b = await asyncio.wait_for(read_response(r), timeout)
        w.close()
        count("statuses", st)
        if st >= 500 and st != 503:
            stats["unexpected"].append(f"{label}: {st} {b[:200]!r}")
        return st, b
    except Exception as e:  # connection closed by the server is a valid answer to garbage
        count("errors", type(e).__name__)
        return None, b""

valid_lat = []
valid_fail = []

async def prober(stop):
    """Valid requests in a loop: a vocabulary lookup, a neighbour query, /healthz."""
    body = json.dumps({"words": ["w1", "w2"]}).encode()
    sim = json.dumps({"word": "w3", "k": 10}).encode()
    i = 0
    while not stop.is_set():
        for method, path, b in [("POST", f"/v1/models/{a.model}/vectors", body),
                                ("GET", "/healthz", b""),
                                ("POST", f"/v1/models/{a.model}/similar", sim)]:
            t = time.perf_counter()
            st, _ = await one(method, path, b, label="valid " + path)
            dt = (time.perf_counter() - t) * 1e3
            valid_lat.append(dt)
            if st != 200:
                valid_fail.append((path, st))
        i += 1
        await asyncio.sleep(0.01)

async def flood(n=1000, per_conn=3):
    """n concurrent keep-alive connections, each sending per_conn valid requests."""
    async def conn(k):
        try:
            r, w = await asyncio.open_connection(HOST, PORT)
            for j in range(per_conn):
                body = json.dumps({"words": [f"w{(k * 7 + j) % 1000}"]}).encode()
                w.write(request_bytes("POST", f"/v1/models/{a.model}/vectors", body))
                await w.drain()
                st, _ = await asyncio.wait_for(read_response(r), 60)
                count("statuses", st)
            w.close()
        except Exception as e:
            count("errors", "flood-" + type(e).__name__)
    await asyncio.gather(*(conn(k) for k in range(n)))

async def slowloris(n=200, seconds=20):
    async def conn():
        try:
            r, w = await asyncio.open_connection(HOST, PORT)
            req = request_bytes("POST", f"/v1/models/{a.model}/vectors", b'{"words":["w1"]}')
            t0 = time.time()
            for byte in req:
                if time.time() - t0 > seconds:
                    break
                w.write(bytes([byte])); await w.drain()
                await asyncio.sleep(1.0)
            w.close()
        except Exception as e:
            count("errors", "slowloris-" + type(e).__name__)
    await asyncio.gather(*(conn() for _ in range(n)))

async def bodies():
    mb = a.max_body
    path = f"/v1/models/{a.model}/vectors"
    base = b'{"words":["w1"]}'
    at = base + b" " * (mb - len(base))           # exactly the limit: valid JSON
    out = {}
    out["at_limit"] = (await one("POST", path, at))[0]
    out["one_past"] = (await one("POST", path, at + b" "))[0]
    out["10MB_word"] = (await one("POST", path, b'{"words":["' + b"x" * (10 << 20) + b'"]}'))[0]
    # Content-Length larger than what is sent, then the connection is closed.
    raw = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {mb}\r\n\r\n").encode() + base
    out["short_body"] = (await one("POST", path, raw=raw, timeout=5))[0]
    # Content-Length far past the limit, body never sent.
    raw = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n".encode()
    out["huge_length"] = (await one("POST", path, raw=raw, timeout=10))[0]
    # Chunked body past the limit.
    chunk = b"x" * 65536
    raw = (f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    raw += b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(mb // 65536 + 4)) + b"0\r\n\r\n"
    out["chunked_past"] = (await one("POST", path, raw=raw))[0]
    # Deep JSON, within the limit.
    depth = min(mb // 2 - 10, 200000)
    out["deep_json"] = (await one("POST", path, b"[" * depth + b"]" * depth))[0]
    out["deep_object"] = (await one("POST", path, b'{"words":' + b"[" * depth + b"]" * depth + b"}"))[0]
    # NUL bytes and odd words, batches at and past --max-batch are in the API tests.
    out["nul_word"] = (await one("POST", path, json.dumps({"words": ["w1\u0000", "\u0000"]}).encode()))[0]
    out["invalid_utf8"] = (await one("POST", path, b'{"words":["\xff\xfe"]}'))[0]
    out["nul_model"] = (await one("POST", "/v1/models/a%00b/vectors", base))[0]
    for k, t in enumerate(["..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e", "../../etc/passwd",
                           "....//....//etc", "%252e%252e%252f"]):
        out[f"traversal_{k}"] = (await one("POST", f"/v1/models/{t}/vectors", base))[0]
    for k, t in enumerate(["/assets/../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd",
                           "/assets/..%2f..%2fCargo.toml", "//etc/passwd"]):
        out[f"asset_traversal_{k}"] = (await one("GET", t))[0]
    out["garbage_request_line"] = (await one("GET", "/", raw=b"\x00\x01\x02 / HTTP/9.9\r\n\r\n", timeout=5))[0]
    out["huge_header"] = (await one("GET", "/healthz", raw=b"GET /healthz HTTP/1.1\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n", timeout=10))[0]
    return out

async def heavy(n=300):
    """Heavy requests beyond the pool's queue: unknown words (subwords, when the model has
    them) and long transformer texts."""
    words = [("q%05d" % i) + "abcdefghij" * 90 for i in range(800)]
    body = json.dumps({"words": words}).encode()
    text = json.dumps({"text": "the quick brown fox " * 5000}).encode()
    tasks = []
    for i in range(n):
        if i % 2:
            tasks.append(one("POST", f"/v1/models/{a.model}/vectors", body, label="heavy vectors"))
        else:
            tasks.append(one("POST", f"/v1/transformers/{a.transformer}/embed", text, label="heavy embed"))
    res = await asyncio.gather(*tasks)
    out = {}
    for st, _ in res:
        out[str(st)] = out.get(str(st), 0) + 1
    return out

async def main():
    rss0 = rss_kib()
    rss_max = rss0
    stop = asyncio.Event()
    probe = asyncio.create_task(prober(stop))
    async def sample():
        nonlocal rss_max
        while not stop.is_set():
            r = rss_kib()
            if r is None:
                stats["unexpected"].append("server process gone")
                return
            rss_max = max(rss_max, r)
            await asyncio.sleep(0.2)
    sampler = asyncio.create_task(sample())
    t0 = time.time()
    results = {}
    results["slowloris"] = asyncio.create_task(slowloris(200, min(20, a.seconds / 3)))
    await asyncio.sleep(1)
    t = time.time(); await flood(1000, 3); results["flood_s"] = round(time.time() - t, 2)
    results["bodies"] = await bodies()
    results["heavy"] = await heavy(300)
    await results["slowloris"]; results["slowloris"] = "done"
    stop.set()
    await probe; await sampler
    alive = (await one("GET", "/healthz", label="final healthz"))[0] == 200
    lat = sorted(valid_lat)
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))], 1) if lat else None
    summary = {
        "alive_after": alive,
        "valid_requests": len(lat), "valid_failed": valid_fail[:20],
        "valid_ms": {"p50": q(0.5), "p99": q(0.99), "max": q(1.0)},
        "rss_mib": {"before": round(rss0 / 1024, 1), "max": round(rss_max / 1024, 1),
                    "after": round((rss_kib() or 0) / 1024, 1)},
        "attack_results": results, "statuses": stats["statuses"], "client_errors": stats["errors"],
        "unexpected_5xx": stats["unexpected"][:20], "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(summary, indent=1))
    ok = alive and not valid_fail and not stats["unexpected"]
    sys.exit(0 if ok else 1)

asyncio.run(main())
