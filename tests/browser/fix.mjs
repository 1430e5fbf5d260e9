// Browser test of the operator page for the user who has to fix things, against the real local stack (started
// by run.sh; its printed page link is STACK_URL). The demo's first round leaves invoice 000000010890 (fees
// with the environmental levy, VP tax codes V21 + ECO) in Error: no combined-tax-codes row books 23 %. As a
// new user: open the link, find the error, read a message that says what to add where, press its
// "Add to combined-tax-codes lookup" button (keyboard only), make a mistake the lookup API refuses next to the
// field, save the row, send the invoice again and see it turn Success. Then the lookup table's Export CSV and
// Import CSV (a refused line listed with why), editing a row in place, the statuses' explanations, and an
// axe-core check of every tab at 1280×800 and 768×1024 (serious or critical violations fail the test).
// Screenshots of each step in screenshots/fix-*.png.
//
// Environment: STACK_URL (the local stack's page link with #key=...), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const stackUrl = process.env.STACK_URL;
if (!stackUrl || !stackUrl.includes("#key=")) {
  console.error("STACK_URL (the local stack's page link) is required");
  process.exit(2);
}
const [base, key] = stackUrl.split("/#key=");
const LEVY = "000000010890";

const profile = mkdtempSync(join(tmpdir(), "ledgerlink-chromium-"));
const work = mkdtempSync(join(tmpdir(), "ledgerlink-fix-"));
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

async function apiGet(path) {
  const answer = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${key}` } });
  if (!answer.ok) throw new Error(`GET ${path}: ${answer.status}`);
  return answer.json();
}

const TABS = ["integration", "exports", "imports", "manager", "lookups", "notifications", "health", "connections"];

/** axe-core on what the page shows now; returns the serious and critical violations, described. */
async function axe(page, where) {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy rightly refuses inline scripts.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(`${axeSource}\n;void 0`);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${where}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
}

const errors = [];
let failed = false;
const step = async (page, name) => page.screenshot({ path: join(shots, `fix-${name}.png`), fullPage: true });
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  // The deliberate mistakes below are refused with a 400 the page shows; any other failed request is a defect.
  let refusalsExpected = 0;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (m.text().includes("status of 400") && refusalsExpected > 0) { refusalsExpected -= 1; return; }
    errors.push(`console: ${m.text()}`);
  });

  // 1. The link the local stack printed; the objects in Error.
  await page.goto(stackUrl);
  await page.waitForFunction(() => document.querySelector("#who").textContent.includes("demo"));
  await page.selectOption("#status-filter", "error");
  const row = page.locator(`#objects tbody tr[data-type="invoice"][data-key^="${LEVY}."]`);
  await row.waitFor();
  const objectKey = await row.getAttribute("data-key");
  const message = (await row.locator("td.message > span").textContent()).trim();
  // The message says which table, which row and which column; it does not repeat the invoice's key.
  for (const part of ['"ECO+V21"', "combined-tax-codes", "exact_code"]) {
    if (!message.includes(part)) throw new Error(`the message does not name ${part}: ${message}`);
  }
  if (message.includes(objectKey)) throw new Error(`the message repeats the key: ${message}`);
  // A person's columns: the key is the invoice number with its period, the version no discovery window.
  const shownKey = (await row.locator("td:nth-child(2) button").textContent()).trim();
  if (shownKey !== `${LEVY} (${objectKey.split(".")[1].slice(0, 4)}/${objectKey.split(".")[1].slice(4)})`) {
    throw new Error(`the key column reads ${shownKey}`);
  }
  const version = (await row.locator("td.version").textContent()).trim();
  if (!/^posted \d{2}\/\d{2}\/\d{2}$/.test(version)) throw new Error(`the version column reads ${version}`);
  // The five statuses of seed 002 are explained on hover and in the help.
  const hover = await row.locator(".status").getAttribute("title");
  if (!hover || !hover.startsWith("Error:")) throw new Error(`the Error status has no explanation on hover: ${hover}`);
  await page.click("#status-help summary");
  const help = await page.locator("#status-help dt").allTextContents();
  for (const status of ["Success", "Error", "Pending", "Not integrated", "Desynchronized"]) {
    if (!help.some((t) => t.includes(status))) throw new Error(`the help does not explain ${status}: ${help}`);
  }
  await step(page, "1-error-with-its-fix");

  // 2. The detail panel shows the whole message and the same fix.
  await row.locator("td:nth-child(2) button").click();
  await page.waitForSelector("#detail:not([hidden])");
  await page.locator('#detail button.fix[data-fix="combined-tax-codes"]').waitFor();
  await step(page, "2-detail");

  // 3. Keyboard only: focus the fix button and press Enter; the lookup editor opens with the row filled in
  //    and the cursor where the missing value goes.
  await page.focus('#detail button.fix[data-fix="combined-tax-codes"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector("#tab-lookups:not([hidden])");
  if ((await page.inputValue("#lookup-table")) !== "combined-tax-codes") throw new Error("the fix opened another table");
  if ((await page.inputValue("#lookup-key")) !== "ECO+V21") throw new Error(`the key field holds ${await page.inputValue("#lookup-key")}`);
  const prefilled = await page.inputValue("#lookup-columns");
  if (!/^exact_code=$/m.test(prefilled)) throw new Error(`the columns to fill: ${prefilled}`);
  if ((await page.evaluate(() => document.activeElement.id)) !== "lookup-columns") throw new Error("the cursor is not in the columns");
  await step(page, "3-lookup-prefilled");

  // 4. A mistake first: a VAT code that is none is refused next to the field, naming the row.
  await page.keyboard.type("2ABC");
  refusalsExpected += 1;
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter"); // Save row
  await page.waitForSelector("#lookup-error:not([hidden])");
  const refusal = await page.textContent("#lookup-error");
  if (!refusal.includes("ECO+V21") || !refusal.includes("exact_code")) throw new Error(`the refusal reads ${refusal}`);
  if ((await page.getAttribute("#lookup-columns", "aria-invalid")) !== "true") throw new Error("the refused field is not marked");
  await step(page, "4-refused-next-to-the-field");

  // 5. The right value (Exact's high rate, 2 — the demo's README says why); saved, then sent again.
  await page.fill("#lookup-columns", "exact_code=2");
  await page.click("#lookup-form button[type=submit]");
  await page.waitForSelector("#lookup-fix-next:not([hidden]) #resync-fixed");
  await page.locator(`#lookup-rows tbody tr[data-key="ECO+V21"]`).waitFor();
  await step(page, "5-row-saved");
  await page.click("#resync-fixed");
  await page.waitForSelector("#tab-integration:not([hidden])");
  const fixed = page.locator(`#objects tbody tr[data-key="${objectKey}"]`);
  const deadline = Date.now() + 30000;
  for (;;) {
    const status = await fixed.locator(".status").getAttribute("data-status").catch(() => null);
    if (status === "success") break;
    if (Date.now() > deadline) throw new Error(`the invoice did not turn Success (last: ${status})`);
    await page.waitForTimeout(500);
    await page.click("#refresh");
  }
  if ((await fixed.locator("button.fix").count()) !== 0) throw new Error("a synced object still offers a fix");
  const synced = await apiGet(`/api/objects/invoice/${objectKey}`);
  if (synced.object.status !== "success" || synced.object.fix) throw new Error(`the API says ${JSON.stringify(synced.object)}`);
  await step(page, "6-success");

  // 6. The lookup table as CSV, and back: Export CSV downloads it; Import CSV adds the good line and lists
  //    the refused one with its line number and why.
  await page.click('#tabs button[data-tab="lookups"]');
  await page.selectOption("#lookup-table", "combined-tax-codes");
  await page.locator(`#lookup-rows tbody tr[data-key="ECO+V21"]`).waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-lookup")]);
  if (download.suggestedFilename() !== "combined-tax-codes.csv") throw new Error(`export file ${download.suggestedFilename()}`);
  const exported = readFileSync(await download.path(), "utf8").split(/\r?\n/).filter(Boolean);
  if (!exported[0].startsWith("key,") || !exported.some((l) => l.startsWith("ECO+V21,") && l.split(",").includes("2"))) {
    throw new Error(`exported CSV: ${exported.join(" | ")}`);
  }
  const csvPath = join(work, "combined.csv");
  writeFileSync(csvPath, "key,exact_code,description\r\nECO+V9,1,levy on the low rate\r\nV0+ECO,not-a-code,bad\r\n");
  refusalsExpected += 1;
  await page.setInputFiles("#import-lookup", csvPath);
  await page.locator('#lookup-import-results li[data-line="3"]').waitFor();
  const importRefusal = await page.textContent('#lookup-import-results li[data-line="3"]');
  if (!importRefusal.includes("exact_code")) throw new Error(`the import refusal reads ${importRefusal}`);
  await page.locator(`#lookup-rows tbody tr[data-key="ECO+V9"]`).waitFor();
  await step(page, "7-import-export");

  // 7. Edit a row in place: the editor opens under the row itself.
  await page.click('#lookup-rows tbody tr[data-key="ECO+V9"] button:has-text("Edit")');
  await page.waitForSelector('#lookup-rows tbody tr.editing #lookup-form');
  const editingAfter = await page.evaluate(() => document.querySelector("#lookup-rows tbody tr.editing").previousElementSibling.dataset.key);
  if (editingAfter !== "ECO+V9") throw new Error(`the editor opened under ${editingAfter}`);
  await page.fill("#lookup-columns", "exact_code=1\ndescription=levy on the low rate (checked)");
  await page.click("#lookup-form button[type=submit]");
  await page.locator('#lookup-rows tbody tr[data-key="ECO+V9"]:has-text("(checked)")').waitFor();
  await step(page, "8-edited-in-place");

  // 8. Accessibility and layout: every tab at 1280×800 and at a tablet's 768×1024.
  const found = [];
  for (const [width, height] of [[1280, 800], [768, 1024]]) {
    await page.setViewportSize({ width, height });
    for (const tab of TABS) {
      await page.click(`#tabs button[data-tab="${tab}"]`);
      await page.waitForSelector(`#tab-${tab}:not([hidden])`);
      await page.waitForTimeout(300);
      found.push(...(await axe(page, `${tab} at ${width}x${height}`)));
      // Nothing may stick out of the window sideways except inside a scrolling frame.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (overflow > 0) found.push(`${tab} at ${width}x${height}: the page is ${overflow}px wider than the window`);
      if (tab === "integration" || tab === "lookups") await step(page, `9-${tab}-${width}x${height}`);
    }
  }
  if (found.length) throw new Error(`accessibility / layout:\n${found.join("\n")}`);

  if (errors.length) throw new Error(errors.join("\n"));
  console.log("fix browser test passed; screenshots in", shots);
} catch (e) {
  failed = true;
  console.error("fix browser test FAILED:", e.message);
  for (const line of errors) console.error(line);
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: join(shots, "fix-failure.png"), fullPage: true });
  } catch (_) { /* best effort */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
