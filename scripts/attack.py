#!/usr/bin/env python3
"""Attacks of issue 12 (findings 1-9) and issue 19 against a RUNNING local stack, over HTTP only.

    scripts/attack.py <api base url> <api key>

Started by scripts/attack.sh (which starts the stack and reads its link and key). Everything an attacker
holding the demo tenant's API key can do from outside: the API, the webhooks, the file links, and a
listener on 127.0.0.1 standing in for a host the attacker runs. Each attack counts as REFUSED only when
the answers show it was refused (or had no effect) AND the service still answers afterwards.

The last line is `attacks: tried=N refused=N service_up=yes|no`. Exit status 0 only when every attack
was refused and the service is up. Python standard library only.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import http.server
import io
import json
import socket
import sys
import threading
import time
import urllib.parse
import zipfile

BASE = sys.argv[1].rstrip("/")
KEY = sys.argv[2]
HOST, PORT = urllib.parse.urlsplit(BASE).hostname, urllib.parse.urlsplit(BASE).port
TENANT = KEY.split("_")[1] if KEY.startswith("llk_") else "demo"


# --------------------------------------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def text(self):
        return self.body.decode("utf-8", "replace")[:300]


def request(method, path, body=None, headers=None, key=KEY, timeout=60):
    conn = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    if method == "PUT" and path.startswith("/api/connections/") and "If-Match" not in h:
        # A connection change names the version it is based on (the ETag of GET /api/connections).
        current = request("GET", "/api/connections", key=key, timeout=timeout)
        if "etag" in current.headers:
            h["If-Match"] = current.headers["etag"]
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def service_up():
    try:
        return request("GET", "/healthz", key=None, timeout=10).status == 200
    except OSError:
        return False


def wait_job(job_id, until=("failed", "finished"), seconds=90):
    deadline = time.time() + seconds
    job = None
    while time.time() < deadline:
        job = request("GET", f"/api/jobs/{job_id}").json or {}
        if job.get("status") in until:
            return job
        time.sleep(0.5)
    return job or {}


class Listener:
    """A host the attacker runs: records every request, answers 401 (so a client tries every credential)."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(f"{self.command} {self.path}\n{self.headers}\n{body.decode('utf-8', 'replace')}")
                payload = b'{"error":"invalid_grant"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def leaked(self):
        """What secret-looking thing reached this host, if any."""
        for r in self.requests:
            lower = r.lower()
            if "\nauthorization:" in lower:
                return "an Authorization header"
            for field in ("password=", "client_secret=", "refresh_token=", "code="):
                if field in lower:
                    return field
        return None

    def close(self):
        self.server.shutdown()


# --------------------------------------------------------------------------------------------------------
# The attacks: each returns (refused: bool, what happened: str)
# --------------------------------------------------------------------------------------------------------

def dutch_wall(at):
    """Exact's EventCreatedOn: the Dutch wall clock (CET/CEST), no offset, milliseconds."""
    year = at.year

    def last_sunday(month):
        d = datetime.datetime(year, month, 31 if month in (3, 10) else 30, 1, tzinfo=datetime.timezone.utc)
        return d - datetime.timedelta(days=(d.weekday() + 1) % 7)

    summer = last_sunday(3) <= at < last_sunday(10)
    wall = at + datetime.timedelta(hours=2 if summer else 1)
    return wall.strftime("%Y-%m-%dT%H:%M:%S.") + f"{wall.microsecond // 1000:03d}"


def exact_delivery(secret, division, created, topic="BankEntries"):
    content = json.dumps({
        "Topic": topic, "ClientId": "2781096d-a179-445f-bbf3-7b7e8bf244ae", "Division": division,
        "Action": "Update", "Key": "a79d86b2-69c6-4ca7-a537-d9d27afcdaf5",
        "ExactOnlineEndpoint": f"https://start.exactonline.nl/api/v1/{division}/financialtransaction/BankEntries",
        "EventCreatedOn": dutch_wall(created),
    }, separators=(",", ":"))
    mac = hmac.new(secret.encode(), content.encode(), hashlib.sha256).hexdigest().upper()
    return '{"Content":' + content + ',"HashCode":"' + mac + '"}'


def connections():
    return request("GET", "/api/connections").json or {}


def attack_1_cross_tenant_secret():
    lst = Listener()
    try:
        put = request("PUT", "/api/connections/vantagepoint", {
            "base_url": lst.url + "/vantagepoint",
            "password_ref": {"kind": "local", "name": "other/vp/password"},
        })
        test = request("POST", "/api/connections/vantagepoint/test", {})
        time.sleep(1)
        leak = lst.leaked()
        refused = 400 <= put.status < 500 and leak is None
        return refused, f"PUT naming another tenant's secret: {put.status}; test: {test.status}; leaked: {leak}"
    finally:
        lst.close()


def attack_2_ssrf():
    results = []
    for system, url in [
        ("vantagepoint", "http://169.254.169.254/latest/meta-data"),
        ("vantagepoint", "http://10.0.0.5/vantagepoint"),
        ("vantagepoint", "http://[::ffff:169.254.169.254]/vp"),
        ("vantagepoint", "file:///etc/passwd"),
        ("exact", "https://attacker.example.com"),
        ("exact", "http://169.254.169.254"),
    ]:
        a = request("PUT", f"/api/connections/{system}", {"base_url": url})
        results.append((system, url, a.status))
    refused = all(400 <= s < 500 for _, _, s in results)
    return refused, "; ".join(f"{s} {u} -> {st}" for s, u, st in results)


def workbook_spanning_every_cell():
    """A ~1 kB XLSX whose Data sheet has values at A1 and XFD1048576 (a dense range of 512 GiB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                   '</Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                   '</Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                   '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   '</Relationships>')
        cells = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'
                        for c, h in zip("ABCD", ["Key", "vp_code", "rate", "compound_on"]))
        z.writestr("xl/worksheets/sheet1.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                   '<dimension ref="A1:XFD1048576"/><sheetData>'
                   f'<row r="1">{cells}</row>'
                   '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>boom</t></is></c></row>'
                   '</sheetData></worksheet>')
    return buf.getvalue()


def attack_3_import_oom():
    body = workbook_spanning_every_cell()
    up = request("POST", "/api/imports?template=lookup-tax-codes&format=xlsx", body,
                 {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    if up.status != 201:
        return up.status in (400, 413) and service_up(), f"upload of the workbook refused: {up.status} {up.text()}"
    job = wait_job(up.json["id"])
    alive = service_up()
    reset = request("POST", f"/api/jobs/{up.json['id']}/reset", {})
    again = wait_job(reset.json["id"]) if reset.status == 201 else {}
    alive_after_reset = service_up()
    refused = (job.get("status") == "failed" and again.get("status") == "failed"
               and alive and alive_after_reset)
    return refused, (f"{len(body)} B workbook: import {job.get('status')} ({job.get('fail_reason')}); "
                     f"reset: {again.get('status')}; service up: {alive and alive_after_reset}")


def signed_put_link():
    begun = request("POST", "/api/imports/uploads", {"template": "lookup-tax-codes", "format": "csv"})
    url = urllib.parse.urlsplit(begun.json["upload"]["url"])
    return url.path + "?" + url.query


def raw_put(path, content_length, send_bytes):
    """PUT with the given Content-Length, sending only `send_bytes` of the body, then reads the answer."""
    s = socket.create_connection((HOST, PORT), timeout=30)
    try:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nContent-Length: {content_length}\r\n"
                  f"Content-Type: application/octet-stream\r\n\r\n".encode())
        chunk = b"x" * (1 << 20)
        sent = 0
        try:
            while sent < send_bytes:
                s.sendall(chunk[: min(len(chunk), send_bytes - sent)])
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed early: what a refusal should do
        data = b""
        while b"\r\n" not in data:
            part = s.recv(4096)
            if not part:
                break
            data += part
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        return int(line.split()[1]) if line.startswith("HTTP/") else 0
    finally:
        s.close()


def attack_3_bogus_signature_bodies():
    path = signed_put_link().replace("sig=", "sig=00", 1)
    statuses = [None] * 8
    size = 19 << 20

    def one(i):
        try:
            statuses[i] = raw_put(path, size, size)
        except OSError as e:
            statuses[i] = str(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = all(s in (400, 401, 403) for s in statuses) and service_up()
    return refused, f"8 parallel 19 MiB bodies with a bogus signature: {statuses}"


def attack_3_oversized_signed_upload():
    status = raw_put(signed_put_link(), 64 << 20, 1 << 20)
    return status == 413 and service_up(), f"signed PUT announcing 64 MiB: {status}"


def attack_4_csv_formula():
    payload = '=HYPERLINK("http://x","click")'
    put = request("PUT", "/api/lookups/journal-codes/ZZATTACK", {"columns": {"exact_code": payload}})
    if put.status not in (200, 201):
        return False, f"could not plant the formula: {put.status} {put.text()}"
    definition = {
        "id": "attack-formulas", "name": "attack-formulas", "description": "formula injection check",
        "source": {"kind": "lookup", "table": "journal-codes"},
        "columns": [{"field": "key", "header": "Key"}, {"field": "exact_code", "header": "Code"}],
        "format": "csv",
    }
    created = request("POST", "/api/export-definitions", definition)
    if created.status not in (200, 201, 409):
        return False, f"could not define the export: {created.status} {created.text()}"
    run = request("POST", "/api/export-definitions/attack-formulas/run", {})
    job = wait_job(run.json["id"]) if run.status == 201 else {}
    link = request("POST", f"/api/jobs/{job.get('id')}/download", {})
    if link.status != 200:
        return False, f"export {job.get('status')}: no download ({link.status})"
    url = urllib.parse.urlsplit(link.json["url"])
    csv = request("GET", url.path + "?" + url.query, key=None).body.decode("utf-8", "replace")
    import csv as csvmod
    cells = [c for row in csvmod.reader(io.StringIO(csv)) for c in row]
    planted = [c for c in cells if "HYPERLINK" in c]
    raw = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    refused = bool(planted) and not raw and service_up()
    return refused, f"the planted cell came back as {planted or 'nothing (export lacks it)'}; raw formulas: {raw or 'none'}"


def attack_5_key_fixation():
    js = request("GET", "/app.js", key=None).body.decode("utf-8", "replace")
    start = js.find("function readKey")
    body = js[start:js.find("\n}\n", start)] if start >= 0 else ""
    asks = "confirm(" in body or "different tenant" in body or "another tenant" in body
    return asks, ("the page asks before taking a #key= for another tenant" if asks else
                  "the page takes any #key= from a link and replaces the stored key without asking")


def attack_7_tenant_enumeration():
    bogus = '{"Content":{"Topic":"BankEntries","Division":1},"HashCode":"' + "0" * 64 + '"}'
    known = request("POST", f"/webhooks/exact/{TENANT}", bogus, key=None)
    unknown = request("POST", "/webhooks/exact/no-such-tenant-zz", bogus, key=None)
    basic = {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()}
    vp_known = request("POST", f"/webhooks/vantagepoint/{TENANT}", "{}", basic, key=None)
    vp_unknown = request("POST", "/webhooks/vantagepoint/no-such-tenant-zz", "{}", basic, key=None)
    # Problem details echo the request path as `instance`: that echo is the caller's own input, so it is
    # masked before comparing; everything else must be byte for byte the same.
    def masked(answer, tenant):
        return answer.status, answer.body.replace(tenant.encode(), b"<tenant>")
    same = masked(known, TENANT) == masked(unknown, "no-such-tenant-zz") and \
        masked(vp_known, TENANT) == masked(vp_unknown, "no-such-tenant-zz")
    return same, f"exact known/unknown: {known.status}/{unknown.status}; vp: {vp_known.status}/{vp_unknown.status}"


def attack_8_webhook_replays():
    secret = "attack-known-webhook-secret"
    put = request("PUT", "/api/connections/exact", {"webhook_secret": secret})
    division = (connections().get("exact") or {}).get("division")
    if put.status != 200 or division is None:
        return False, f"could not set a webhook secret: {put.status} {put.text()}"
    now = datetime.datetime.now(datetime.timezone.utc)
    captured = exact_delivery(secret, division, now)
    path = f"/webhooks/exact/{TENANT}"
    outcomes = []
    for body in [captured, " " + captured, captured + "\n", "\t" + captured + "\r\n"]:
        a = request("POST", path, body, {"Content-Type": "application/json"}, key=None)
        outcomes.append((a.json or {}).get("outcome", a.status))
    stale = request("POST", path, exact_delivery(secret, division, now - datetime.timedelta(days=2)),
                    {"Content-Type": "application/json"}, key=None)
    stale_outcome = (stale.json or {}).get("outcome", stale.status)
    refused = outcomes == ["enqueued", "duplicate", "duplicate", "duplicate"] and stale_outcome == "stale"
    return refused, f"captured delivery and 3 whitespace variants: {outcomes}; 2-day-old event: {stale_outcome}"


def attack_9_malformed_credentials():
    statuses = []
    for auth in [None, "Basic eDp5", "Bearer", "Bearer garbage", f"Bearer llk_{TENANT}_short",
                 f"Bearer llk_{TENANT}_" + "z" * 64, "Bearer llk_" + "a" * 5000 + "_" + "0" * 64]:
        h = {"Authorization": auth} if auth else {}
        statuses.append(request("GET", "/api/me", headers=h, key=None).status)
    hook = request("POST", f"/webhooks/vantagepoint/{TENANT}", "{}", key=None).status
    refused = all(s == 401 for s in statuses) and hook == 401
    return refused, f"malformed keys: {statuses}; VP webhook without credentials: {hook}"


def attack_9_throttling():
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    headers = {"Authorization": f"Bearer {KEY}"}
    throttled = None
    for n in range(1, 6001):
        conn.request("GET", "/api/me", headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status == 429:
            throttled = (n, r.getheader("Retry-After"), r.getheader("Content-Type"), body[:120])
            break
    conn.close()
    if throttled is None:
        return False, "6000 requests in a row, none throttled"
    n, retry_after, ctype, _ = throttled
    refused = bool(retry_after) and ctype == "application/problem+json"
    return refused, f"429 after {n} requests (Retry-After {retry_after}, {ctype})"


def attack_19(system):
    lst = Listener()
    try:
        put = request("PUT", f"/api/connections/{system}", {"base_url": lst.url + ("/vantagepoint" if system == "vantagepoint" else "")})
        test = request("POST", f"/api/connections/{system}/test", {})
        time.sleep(2)
        leak = lst.leaked()
        state = (connections().get(system) or {}).get("state")
        refused = leak is None
        return refused, (f"base_url moved to the attacker's host: {put.status}; test: {test.status}; "
                         f"requests there: {len(lst.requests)}; leaked: {leak}; connection now: {state}")
    finally:
        lst.close()


ATTACKS = [
    ("7  tenant enumeration through webhooks", attack_7_tenant_enumeration),
    ("9  malformed credentials", attack_9_malformed_credentials),
    ("8  webhook replays and stale events", attack_8_webhook_replays),
    ("3  XLSX spanning every cell (and Reset task)", attack_3_import_oom),
    ("3  bogus-signature uploads, 8 x 19 MiB", attack_3_bogus_signature_bodies),
    ("3  signed upload over the size limit", attack_3_oversized_signed_upload),
    ("4  CSV formula injection", attack_4_csv_formula),
    ("5  API key fixation through the page link", attack_5_key_fixation),
    ("2  internal and foreign ERP hosts", attack_2_ssrf),
    ("1  another tenant's secret by reference", attack_1_cross_tenant_secret),
    ("19 VP credentials to a new host", lambda: attack_19("vantagepoint")),
    ("19 Exact credentials to a new host", lambda: attack_19("exact")),
    ("9  per-tenant throttling", attack_9_throttling),
]


def main():
    tried = refused = 0
    for name, attack in ATTACKS:
        tried += 1
        try:
            ok, what = attack()
        except Exception as e:  # an attack that errors out did not show a refusal
            ok, what = False, f"attack errored: {e!r}"
        up = service_up()
        ok = ok and up
        refused += ok
        print(f"[{'refused' if ok else 'NOT REFUSED'}] {name}: {what}" + ("" if up else " — SERVICE DOWN"),
              flush=True)
    up = service_up()
    print("Not run over HTTP: finding 6 (rate budget of ANOTHER tenant: the local stack has one tenant; "
          "router test attacks::a_tenant_cannot_exhaust_another_tenant_s_rate_budget).")
    print(f"attacks: tried={tried} refused={refused} service_up={'yes' if up else 'no'}")
    return 0 if refused == tried and up else 1


if __name__ == "__main__":
    sys.exit(main())
