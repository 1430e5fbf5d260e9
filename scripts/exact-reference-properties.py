#!/usr/bin/env python3
"""Extracts the documented property set of each Exact Online entity the emulator serves.

Source: the PHP entities of Pi-Systems/exact-online, generated 1:1 from Exact's REST API reference pages
(https://start.exactonline.nl/docs/HlpRestAPIResourcesDetails.aspx?name=...), one page per entity, with every
property, its Edm type, the HTTP methods it takes part in and whether it is mandatory.

Usage: exact-reference-properties.py <git dir of Pi-Systems/exact-online> <commit> <snapshot date> <out dir>
Writes <out dir>/<service>.<Entity>.txt, one property per line:
    Name<TAB>EdmType<TAB>methods (G/P/U)<TAB>flags (key, required)
Collections (navigation properties) have the type `Collection(<Entity>)`.
"""
import re
import subprocess
import sys

# emulator path -> file in the source repository
ENTITIES = {
    "crm/Accounts": "src/Entity/CRM/Accounts.php",
    "crm/Addresses": "src/Entity/CRM/Addresses.php",
    "crm/BankAccounts": "src/Entity/CRM/BankAccounts.php",
    "crm/Contacts": "src/Entity/CRM/Contacts.php",
    "financial/GLAccounts": "src/Entity/Financial/GLAccounts.php",
    "financial/Journals": "src/Entity/Financial/Journals.php",
    "vat/VATCodes": "src/Entity/VAT/VATCodes.php",
    "vat/VATPercentages": "src/Entity/VAT/VatPercentages.php",
    "general/Currencies": "src/Entity/General/Currencies.php",
    "salesentry/SalesEntries": "src/Entity/SalesEntry/SalesEntries.php",
    "salesentry/SalesEntryLines": "src/Entity/SalesEntry/SalesEntryLines.php",
    "purchaseentry/PurchaseEntries": "src/Entity/PurchaseEntry/PurchaseEntries.php",
    "purchaseentry/PurchaseEntryLines": "src/Entity/PurchaseEntry/PurchaseEntryLines.php",
    "generaljournalentry/GeneralJournalEntries": "src/Entity/GeneralJournalEntry/GeneralJournalEntries.php",
    "generaljournalentry/GeneralJournalEntryLines": "src/Entity/GeneralJournalEntry/GeneralJournalEntryLines.php",
    "financialtransaction/BankEntries": "src/Entity/FinancialTransaction/BankEntries.php",
    "financialtransaction/BankEntryLines": "src/Entity/FinancialTransaction/BankEntryLines.php",
    "financialtransaction/TransactionLines": "src/Entity/FinancialTransaction/TransactionLines.php",
    "cashflow/Receivables": "src/Entity/Cashflow/Receivables.php",
    "cashflow/Payments": "src/Entity/Cashflow/Payments.php",
    "cashflow/PaymentTerms": "src/Entity/Sync/Cashflow/PaymentTerms.php",
    "webhooks/WebhookSubscriptions": "src/Entity/Webhooks/WebhookSubscriptions.php",
    "system/Divisions": "src/Entity/System/Divisions.php",
    "hrm/Divisions": "src/Entity/HRM/Divisions.php",
    "sync/Deleted": "src/Entity/Sync/Deleted.php",
    "read/financial/ReceivablesList": "src/Entity/Financial/ReceivablesList.php",
    "current/Me": "src/Entity/System/Me.php",
    "logistics/Items": "src/Entity/Logistics/Items.php",
    "salesinvoice/SalesInvoices": "src/Entity/SalesInvoice/SalesInvoices.php",
    "salesinvoice/SalesInvoiceLines": "src/Entity/SalesInvoice/SalesInvoiceLines.php",
    "salesinvoice/PrintedSalesInvoices": "src/Entity/SalesInvoice/PrintedSalesInvoices.php",
    "financial/DeductibilityPercentages": "src/Entity/Financial/DeductibilityPercentages.php",
    "sync/Financial/TransactionLines": "src/Entity/Sync/Financial/TransactionLines.php",
    "sync/Sync/SyncTimestamp": "src/Entity/Sync/SyncTimestamp.php",
}

PROP = re.compile(r"public\s+[^$]*\$(\w+)\s*=")
EDM = re.compile(r"#\[EDM\\(\w+)(?:\(([^)]*)\))?\]")
METHOD = re.compile(r"#\[Exact\\Method\(HttpMethod::(\w+)\)\]")


def parse(text):
    out = []
    see = None
    m = re.search(r"@see (https://start\.exactonline\.nl/docs/\S+)", text)
    if m:
        see = m.group(1)
    # the class body starts at the first "class ... extends"
    body = text[text.index(" extends "):]
    block = []
    for line in body.splitlines():
        block.append(line)
        pm = PROP.search(line)
        if not pm:
            continue
        attrs = "\n".join(block)
        block = []
        name = pm.group(1)
        edm = EDM.search(attrs)
        ty = "Edm.String"
        if edm:
            kind, arg = edm.group(1), edm.group(2)
            if kind == "Collection":
                target = (arg or "").split(",")[-1].strip().strip("'\"")
                ty = f"Collection({target})"
            elif kind == "UTF8String":
                ty = "Edm.String"
            else:
                ty = f"Edm.{kind}"
        methods = {m for m in METHOD.findall(attrs)}
        letters = "".join(c for c, k in (("G", "GET"), ("P", "POST"), ("U", "PUT")) if k in methods) or "-"
        flags = []
        if "#[Exact\\Key]" in attrs:
            flags.append("key")
        if "#[Exact\\Required]" in attrs:
            flags.append("required")
        out.append((name, ty, letters, ",".join(flags) or "-"))
    return see, out


# Properties Exact documents elsewhere than on the entity's generated page (added with their source).
EXTRA = {
    "webhooks/WebhookSubscriptions": [
        ("IsInstant", "Edm.Boolean", "GP", "-",
         "field doc of WebhookSubscriptions: 'Enable instant delivery (only supported for topic GoodsDeliveries)'"),
    ],
}


def main():
    git_dir, commit, date, out_dir = sys.argv[1:5]
    for path, src in ENTITIES.items():
        try:
            text = subprocess.run(
                ["git", "--git-dir", git_dir, "show", f"{commit}:{src}"],
                check=True, capture_output=True, text=True,
            ).stdout
        except subprocess.CalledProcessError:
            print(f"missing: {src}", file=sys.stderr)
            continue
        see, props = parse(text)
        name = path.replace("/", ".")
        with open(f"{out_dir}/{name}.txt", "w") as f:
            f.write(f"# {path}: documented properties (Name, Edm type, methods G/P/U, key/required)\n")
            f.write(f"# reference page: {see}\n")
            f.write(f"# as of {date}: Pi-Systems/exact-online {commit[:8]} {src} (generated from that page)\n")
            for p in props:
                f.write("\t".join(p) + "\n")
            for name, ty, methods, flags, why in EXTRA.get(path, []):
                f.write(f"# added: {name} ({why})\n")
                f.write("\t".join((name, ty, methods, flags)) + "\n")


if __name__ == "__main__":
    main()
