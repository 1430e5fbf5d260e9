// Browser test of the export job as a new user meets it on day one, against the real local stack (started
// by run.sh; its printed page link is STACK_URL): the Export history tab shows the demo's definitions and
// the first round's export; the user creates a definition with the page's form (source, columns chosen and
// ordered, a filter, format, file name), saves and runs it, watches its progress, downloads the file and
// checks its rows against the demo export of the same firms; then edits, copies and deletes definitions.
// Screenshots of each step in screenshots/exports-*.png, at 1280×800 and at a tablet width.
//
// Environment: STACK_URL (the local stack's page link with #key=...), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
mkdirSync(shots, { recursive: true });
const stackUrl = process.env.STACK_URL;
if (!stackUrl || !stackUrl.includes("#key=")) {
  console.error("STACK_URL (the local stack's page link) is required");
  process.exit(2);
}
const [base, key] = stackUrl.split("/#key=");

const profile = mkdtempSync(join(tmpdir(), "ledgerlink-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 800 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

/** Parses simple CSV (the exports quote only fields with commas or quotes). */
function csv(text) {
  const rows = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const cells = [];
    let cell = "", quoted = false;
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') { cell += '"'; i += 1; }
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { cells.push(cell); cell = ""; }
      else cell += c;
    }
    cells.push(cell);
    rows.push(cells);
  }
  return rows;
}

async function apiGet(path) {
  const answer = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${key}` } });
  if (!answer.ok) throw new Error(`GET ${path}: ${answer.status}`);
  return answer.json();
}

const errors = [];
let failed = false;
const step = async (page, name) => page.screenshot({ path: join(shots, `exports-${name}.png`), fullPage: true });
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  // The deliberate mistake below is refused with a 400 the page shows; any other failed request is a defect.
  let refusalsExpected = 0;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (m.text().includes("status of 400") && refusalsExpected > 0) { refusalsExpected -= 1; return; }
    errors.push(`console: ${m.text()}`);
  });

  // 1. The link the local stack printed, then the Export history tab: the demo's definitions and the
  //    first round's finished export with its download.
  await page.goto(stackUrl);
  await page.waitForFunction(() => document.querySelector("#who").textContent.includes("demo"));
  await page.click('#tabs button[data-tab="exports"]');
  for (const id of ["invoices-this-period", "payments-received", "objects-in-error", "firms-and-accounts"]) {
    await page.waitForSelector(`#definitions tbody tr[data-definition="${id}"]`);
  }
  const first = page.locator('#exports tbody tr[data-job="1"]');
  await first.locator(".status[data-status=finished]").waitFor();
  const firstText = await first.textContent();
  if (!firstText.includes("Firms with their ledger accounts export initiated on")) throw new Error(`first export: ${firstText}`);
  if (firstText.includes("export export")) throw new Error(`the description repeats itself: ${firstText}`);
  await first.locator("button.download").waitFor();
  await step(page, "1-day-one");

  // The demo export's rows, to check the user's own export against.
  const demoLink = await (await fetch(`${base}/api/jobs/1/download`, { method: "POST", headers: { Authorization: `Bearer ${key}` } })).json();
  const demo = csv(await (await fetch(demoLink.url)).text());
  const [demoHead, ...demoRows] = demo;
  const col = (name) => demoHead.indexOf(name);
  const expected = demoRows
    .filter((r) => r[col("Role")] === "client")
    .map((r) => [r[col("Client")], r[col("Exact account")], r[col("Name")]]);
  if (expected.length < 5) throw new Error(`the demo export has too few clients: ${JSON.stringify(demo)}`);

  // 2. A new definition with the page's form.
  await page.click("#new-definition");
  await page.waitForSelector("#definition-form:not([hidden])");
  await page.fill("#def-name", "Clients and their Exact accounts");
  const id = await page.inputValue("#def-id");
  if (id !== "clients-and-their-exact-accounts") throw new Error(`the id made from the name is ${id}`);
  await page.selectOption("#def-source", "firm-accounts");
  // The form suggests the source's first four fields: client_id, client, vendor, name.
  await page.waitForFunction(() => document.querySelectorAll("#def-columns li").length === 4);
  await page.click('#def-columns li:nth-child(1) button[aria-label="Remove column"]'); // client_id
  await page.click('#def-columns li:nth-child(2) button[aria-label="Remove column"]'); // vendor
  await page.click("#add-column");
  await page.fill("#def-columns li:nth-child(3) .col-field", "ledger_account_code");
  await page.fill("#def-columns li:nth-child(3) .col-header", "Exact account");
  await page.click('#def-columns li:nth-child(3) button[aria-label="Move column up"]');
  await page.fill("#def-columns li:nth-child(1) .col-header", "Client");
  await page.fill("#def-columns li:nth-child(3) .col-header", "Name");
  await page.click("#add-condition");
  await page.fill("#def-conditions li:nth-child(1) .cond-field", "role");
  await page.selectOption("#def-conditions li:nth-child(1) .cond-op", "equals");
  await page.fill("#def-conditions li:nth-child(1) .cond-value", "client");
  await page.check('#definition-form input[name=format][value=csv]');
  await page.fill("#def-file-name", "clients-{date}");
  await step(page, "2-new-definition-form");

  // A mistake first: a filter date that is no date is refused with what to write.
  await page.click("#add-condition");
  await page.fill("#def-conditions li:nth-child(2) .cond-field", "updated_at");
  await page.selectOption("#def-conditions li:nth-child(2) .cond-op", "on-or-after");
  await page.fill("#def-conditions li:nth-child(2) .cond-value", "last monday");
  refusalsExpected = 1;
  await page.click("#save-definition");
  await page.waitForFunction(() => document.querySelector("#definition-error").textContent.includes("YYYY-MM-DD"));
  await step(page, "3-clear-error");
  await page.click('#def-conditions li:nth-child(2) button[aria-label="Remove condition"]');

  // 3. Save and run; the history shows the new job move to finished.
  await page.click("#save-run-definition");
  await page.waitForSelector("#definition-form", { state: "hidden" });
  await page.waitForSelector('#definitions tbody tr[data-definition="clients-and-their-exact-accounts"]');
  const row = page.locator('#exports tbody tr[data-job="2"]');
  await row.waitFor();
  const seen = new Set();
  const deadline = Date.now() + 30000;
  for (;;) {
    const status = await row.getAttribute("data-status").catch(() => null);
    if (status) seen.add(status);
    if (status === "finished") break;
    if (status === "failed") throw new Error(`the export failed: ${await row.textContent()}`);
    if (Date.now() > deadline) throw new Error(`the export did not finish (last: ${status})`);
    await page.waitForTimeout(250);
  }
  const progress = (await row.locator(".progress-text").textContent()).trim();
  const [done, total] = progress.split(" / ").map(Number);
  if (!(done > 0 && done === total)) throw new Error(`a finished export's progress reads ${progress}`);
  const description = await row.locator("td").nth(1).textContent();
  if (description !== `Clients and their Exact accounts export initiated on ${new Date().toISOString().slice(0, 10)}`) {
    throw new Error(`description: ${description}`);
  }
  await step(page, "4-finished");

  // 4. Download it as a user does and check its rows.
  const [download] = await Promise.all([page.waitForEvent("download"), row.locator("button.download").click()]);
  const name = download.suggestedFilename();
  if (!/^clients-\d{4}-\d{2}-\d{2}\.csv$/.test(name)) throw new Error(`downloaded file name ${name}`);
  const [head, ...rows] = csv(readFileSync(await download.path(), "utf8"));
  if (head.join(",") !== "Client,Exact account,Name") throw new Error(`headers ${head}`);
  const key3 = (r) => r.join("|");
  const got = rows.map(key3).sort();
  const want = expected.map(key3).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`rows differ from the demo export's clients:\n got ${got.join("\n     ")}\nwant ${want.join("\n     ")}`);
  }

  // 5. Edit (rename), copy, delete.
  await page.click('#definitions tbody tr[data-definition="clients-and-their-exact-accounts"] button.edit-definition');
  await page.waitForSelector("#definition-form:not([hidden])");
  if (!(await page.locator("#def-id").evaluate((n) => n.readOnly))) throw new Error("the id of a saved definition is editable");
  const columns = await page.locator("#def-columns .col-header").evaluateAll((n) => n.map((x) => x.value));
  if (columns.join(",") !== "Client,Exact account,Name") throw new Error(`edit shows columns ${columns}`);
  await page.fill("#def-name", "Clients with Exact accounts");
  await page.click("#save-definition");
  await page.waitForSelector('#definitions tbody tr[data-definition="clients-and-their-exact-accounts"] strong:has-text("Clients with Exact accounts")');
  page.once("dialog", (d) => d.accept("Vendors with Exact accounts"));
  await page.click('#definitions tbody tr[data-definition="clients-and-their-exact-accounts"] button.copy-definition');
  await page.waitForSelector('#definitions tbody tr[data-definition="vendors-with-exact-accounts"]');
  await page.waitForSelector("#definition-form:not([hidden])");
  await page.fill("#def-conditions li:nth-child(1) .cond-value", "vendor");
  // ...and it runs on its own every Monday at 07:00, mailing its link to dolores.
  await page.selectOption("#def-every", "weekly");
  await page.selectOption("#def-weekday", "1");
  await page.fill("#def-at", "07:00");
  await page.fill("#def-notify", "dolores");
  await page.click("#save-definition");
  await page.waitForSelector("#definition-form", { state: "hidden" });
  const copy = await apiGet("/api/export-definitions/vendors-with-exact-accounts");
  if (copy.filter[0].value !== "vendor" || copy.columns.length !== 3) throw new Error(`copy: ${JSON.stringify(copy)}`);
  if (JSON.stringify(copy.schedule) !== JSON.stringify({ every: "weekly", at: "07:00", weekday: 1, notify: "dolores" })) {
    throw new Error(`schedule: ${JSON.stringify(copy.schedule)}`);
  }
  await page.waitForSelector('#definitions tbody tr[data-definition="vendors-with-exact-accounts"] .schedule:has-text("every Monday at 07:00 UTC")');
  await step(page, "5-edited-and-copied");
  page.once("dialog", (d) => d.accept());
  await page.click('#definitions tbody tr[data-definition="vendors-with-exact-accounts"] button.delete-definition');
  await page.waitForSelector('#definitions tbody tr[data-definition="vendors-with-exact-accounts"]', { state: "detached" });
  const left = (await apiGet("/api/export-definitions")).items.map((d) => d.id);
  if (left.includes("vendors-with-exact-accounts") || !left.includes("clients-and-their-exact-accounts")) {
    throw new Error(`definitions after delete: ${left}`);
  }

  // 6. Tablet width: the tab still works (the history scrolls sideways inside its frame).
  await page.setViewportSize({ width: 800, height: 1100 });
  await page.click("#refresh-exports");
  await page.waitForSelector('#exports tbody tr[data-job="2"] button.download');
  await step(page, "6-tablet");

  if (errors.length) throw new Error(errors.join("\n"));
  console.log("exports browser test passed; screenshots in", shots);
} catch (e) {
  failed = true;
  console.error("exports browser test FAILED:", e.message);
  for (const line of errors) console.error(line);
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: join(shots, "exports-failure.png"), fullPage: true });
  } catch (_) { /* best effort */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
