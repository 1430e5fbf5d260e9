#!/usr/bin/env python3
"""Drive the Exact Online emulator with a real third-party client: `exactonline` by OSSO B.V. (ossobv).

Usage: exact_client_check.py BASE_URL   (or EXACT_EMULATOR_URL in the environment)

The script registers its own app, division and user through the emulator's /__emulator admin endpoints,
then uses the library unchanged: the OAuth code flow (auth URL -> redirect with code -> token exchange),
division selection, relations (accounts) with padded-code filters, ledger accounts, VAT codes, creating a
sales entry, finding it again by YourRef with its lines, open receivables, and the too-early refresh error.
The one configuration the emulator needs: plain http is allowed because the emulator serves no TLS.
Exits 0 only if every step worked.
"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

import exactonline.http
from exactonline.api import ExactApi
from exactonline.http import HTTPError
from exactonline.storage.base import ExactOnlineConfig, MissingSetting

DIVISION = 424242


class MemoryStorage(ExactOnlineConfig):
    def __init__(self, values):
        self.values = values

    def get(self, section, option):
        try:
            return self.values[(section, option)]
        except KeyError:
            raise MissingSetting(option)

    def set(self, section, option, value):
        self.values[(section, option)] = value


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def admin(base, path, body):
    req = urllib.request.Request(
        base + "/__emulator/" + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None


def step(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ((": " + detail) if detail else ""))
    if not ok:
        sys.exit(1)


def main():
    base = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EXACT_EMULATOR_URL", "")).rstrip("/")
    if not base:
        print("usage: exact_client_check.py BASE_URL")
        return 2

    client_id = str(uuid.uuid4())
    client_secret = "py-secret-" + uuid.uuid4().hex
    redirect = "http://127.0.0.1:9/exact/callback"
    admin(base, "apps", {"client_id": client_id, "client_secret": client_secret, "webhook_secret": "py-wh",
                         "redirect_uri": redirect, "name": "python check"})
    admin(base, "divisions", {"code": DIVISION, "description": "Python check BV"})
    user = admin(base, "users", {"full_name": "Py Thon", "email": "py@example.invalid", "divisions": [DIVISION]})
    customer = admin(base, "seed/%d/crm/Accounts" % DIVISION, {"Name": "Python Customer", "Code": "7001", "Status": "C"})["key"]

    # The emulator serves plain http; the library only allows https by default.
    exactonline.http.opt_secure.protocols = ("http", "https")
    storage = MemoryStorage({
        ("server", "auth_url"): base + "/api/oauth2/auth",
        ("server", "rest_url"): base + "/api",
        ("server", "token_url"): base + "/api/oauth2/token",
        ("application", "base_url"): redirect,
        ("application", "client_id"): client_id,
        ("application", "client_secret"): client_secret,
    })
    api = ExactApi(storage=storage)

    # OAuth: the consent screen auto-accepts and redirects with ?code=...
    auth_url = api.create_auth_request_url() + "&emulator_user=" + user["id"]
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(auth_url)
        step("authorize redirects", False, "no redirect")
    except urllib.error.HTTPError as e:
        location = e.headers.get("Location", "")
        step("authorize redirects", e.code == 302 and location.startswith(redirect), location)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    step("code contains '!'", "!" in code)
    api.request_token(code)
    step("tokens stored", bool(storage.get_access_token()) and "!" in storage.get_refresh_token())

    current = api.rest(exactonline.resource.GET("v1/current/Me?$select=CurrentDivision"))
    step("current/Me", current[0]["CurrentDivision"] == DIVISION, repr(current))
    api.set_division(DIVISION)
    step("division selected", storage.get_division() == DIVISION)

    relations = api.relations.filter(filter="Status eq 'C'")
    step("relations listed", any(r["ID"] == customer for r in relations), repr(relations))
    by_code = api.relations.filter(relation_code="7001")
    step("relation found by padded code", len(by_code) == 1 and by_code[0]["Code"].strip() == "7001", repr(by_code))

    ledgers = api.ledgeraccounts.filter(code__in=["8000", "1300"])
    codes = sorted(r["Code"] for r in ledgers)
    step("ledger accounts listed", codes == ["1300", "8000"], repr(codes))
    revenue = [r["ID"] for r in ledgers if r["Code"] == "8000"][0]
    step("VAT percentage", api.vatcodes.get_percentage("2  ") == 0.21)

    created = api.invoices.create({
        "Journal": "70", "Customer": customer, "EntryDate": "2026-05-13T00:00:00Z", "YourRef": "PY-INV-0001",
        "Description": "PY-INV-0001 - Python Customer", "Currency": "EUR",
        "SalesEntryLines": [{"GLAccount": revenue, "AmountFC": "100.00", "VATCode": "2  ", "Description": "Work"}],
    })
    step("sales entry created", bool(created.get("EntryID")), repr(created))
    found = api.invoices.get(invoice_number="PY-INV-0001")
    step("sales entry found by YourRef", found["EntryID"] == created["EntryID"] and found["AmountFC"] == 121, repr(found.get("AmountFC")))
    step("sales entry lines followed", len(found["SalesEntryLines"]) == 1, repr(found["SalesEntryLines"]))
    mapping = api.invoices.map_foreign2exact_invoice_numbers(["PY-INV-0001"])
    step("invoice number mapping", mapping["PY-INV-0001"] == found["InvoiceNumber"], repr(mapping))

    open_items = api.receivables.filter(relation_id=customer)
    step("open receivable", len(open_items) == 1 and open_items[0]["Amount"] == 121, repr(open_items))

    # Refreshing right away breaks Exact's 570-second rule: the library surfaces the HTTP error.
    try:
        api.refresh_token()
        step("too-early refresh refused", False, "refresh succeeded")
    except HTTPError as e:
        body = json.loads(e.response)
        step("too-early refresh refused", e.code == 400 and body["error"] == "access_denied", repr(body))

    print("all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
