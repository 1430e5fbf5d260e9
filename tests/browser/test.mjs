// Browser test of the operator page: opens it in Debian's chromium through playwright-core, filters the
// Integration page to Error, selects the failing invoice, clicks FORCE SYNCHRONIZE and waits until the
// object shows SUCCESS; takes screenshots of the Integration page, the export history, imports and the
// sync-health chart. Exits non-zero on any failure (including a JavaScript error on the page).
//
// Then the firm link conflict the fixture's firm-sync rounds left (a vendor whose code is a client's): it
// is the only master data in Error, and it is resolved from the object's detail (Create new account).
//
// Environment: BASE_URL, API_KEY, FORCE_KEY, CONFLICT_KEY (printed by the Rust fixture), CHROMIUM (default
// /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
mkdirSync(shots, { recursive: true });
const { BASE_URL: base, API_KEY: key, FORCE_KEY: forceKey, CONFLICT_KEY: conflictKey } = process.env;
if (!base || !key || !forceKey || !conflictKey) {
  console.error("BASE_URL, API_KEY, FORCE_KEY and CONFLICT_KEY are required");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "ledgerlink-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

const errors = [];
let failed = false;
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  // A 409 is an answer the page shows (e.g. the active period cannot be read without a VP connection).
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("status of 409")) errors.push(`console: ${m.text()}`);
  });

  // Sign in through the URL fragment; the page keeps the key in sessionStorage and drops the fragment.
  await page.goto(`${base}/#key=${key}`);
  await page.waitForFunction(() => document.querySelector("#who").textContent.includes("demo"));
  if (page.url().includes("key=")) throw new Error("the API key stayed in the URL");
  await page.waitForSelector(`#objects tbody tr[data-key="${forceKey}"]`);
  await page.screenshot({ path: join(shots, "integration.png"), fullPage: true });

  // Filter to Error.
  await page.selectOption("#status-filter", "error");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#objects tbody tr[data-key]")];
    return rows.length > 0 && rows.every((r) => r.querySelector(".status").dataset.status === "error");
  });
  const row = page.locator(`#objects tbody tr[data-key="${forceKey}"]`);
  await row.locator(".status[data-status=error]").waitFor();
  await page.screenshot({ path: join(shots, "integration-errors.png"), fullPage: true });

  // Select it and force-synchronize.
  await row.locator("input.select").check();
  await page.waitForSelector("#selection-bar:not([hidden])");
  await page.click("#force-sync");
  await page.waitForSelector(`#action-results li.accepted[data-key="${forceKey}"]`);

  // Show every status again and refresh until the object is Success.
  await page.selectOption("#status-filter", "");
  const deadline = Date.now() + 20000;
  for (;;) {
    const status = await page
      .locator(`#objects tbody tr[data-key="${forceKey}"] .status`)
      .getAttribute("data-status", { timeout: 2000 })
      .catch(() => null);
    if (status === "success") break;
    if (Date.now() > deadline) throw new Error(`${forceKey} did not turn Success (last: ${status})`);
    await page.waitForTimeout(500);
    await page.click("#refresh");
  }
  const label = await page.locator(`#objects tbody tr[data-key="${forceKey}"] .status`).textContent();
  if (label.trim() !== "Success") throw new Error(`status label is ${label}`);
  await page.screenshot({ path: join(shots, "integration-after-force-sync.png"), fullPage: true });

  // --- Firm link conflict (issue 18) -------------------------------------------------------------
  // After three rounds of the real firm-sync, the only master data in Error is the deliberate conflict.
  {
    const answer = await fetch(`${base}/api/objects?category=master-data&status=error&limit=100`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    const inError = (await answer.json()).items.map((i) => `${i.type} ${i.key}`);
    if (inError.length !== 1 || inError[0] !== `firm ${conflictKey}`) {
      throw new Error(`master data in Error after three firm-sync rounds: ${inError.join(", ")}`);
    }
    await page.click('#category button[data-category="master-data"]');
    await page.selectOption("#status-filter", "error");
    const conflictRow = page.locator(`#objects tbody tr[data-key="${conflictKey}"]`);
    await conflictRow.locator(".status[data-status=error]").waitFor();
    await conflictRow.locator("button.link").click();
    await page.waitForSelector(`#detail:not([hidden])[data-key="${conflictKey}"]`);
    const said = await page.locator("#detail-fields").textContent();
    for (const part of ["Shared Code Supplies BV", "belongs to", "create a new Exact Online account"]) {
      if (!said.includes(part)) throw new Error(`the conflict message lacks "${part}": ${said}`);
    }
    await page.waitForSelector("#detail-link:not([hidden])");
    await page.waitForSelector("#link-new-account:not([hidden])");
    await page.waitForSelector("#link-form:not([hidden])");
    await page.screenshot({ path: join(shots, "firm-link-conflict.png"), fullPage: true });

    // Resolve it: a new Exact Online account for the vendor, then the object synchronises.
    await page.click("#link-new-account");
    await page.waitForSelector("#detail-link #link-open");
    const href = await page.locator("#link-open").getAttribute("href");
    if (!href || !href.includes("CRMAccountCard.aspx")) throw new Error(`the link does not open the account: ${href}`);
    const resolvedBy = Date.now() + 20000;
    for (;;) {
      await page.selectOption("#status-filter", "");
      await page.click("#refresh");
      const status = await page
        .locator(`#objects tbody tr[data-key="${conflictKey}"] .status`)
        .getAttribute("data-status", { timeout: 2000 })
        .catch(() => null);
      if (status === "success") break;
      if (Date.now() > resolvedBy) throw new Error(`${conflictKey} did not turn Success after a new account (last: ${status})`);
      await page.waitForTimeout(500);
    }
    await page.locator(`#objects tbody tr[data-key="${conflictKey}"] button.link`).click();
    await page.waitForSelector(`#detail:not([hidden])[data-key="${conflictKey}"] #detail-fields .status[data-status=success]`);
    const history = await page.locator("#detail-history").textContent();
    if (!history.includes("Linked to the new Exact Online account")) throw new Error(`no history entry for the action: ${history}`);
    await page.screenshot({ path: join(shots, "firm-link-resolved.png"), fullPage: true });
    await page.click("#close-detail");
    await page.click('#category button[data-category=""]');
  }

  // Export history: every seed column, a download link and task actions.
  await page.click('#tabs button[data-tab="exports"]');
  await page.waitForSelector("#exports tbody tr[data-job]");
  const headers = await page.locator("#exports thead th").allTextContents();
  for (const h of ["ID", "Description", "Created by", "Progress", "Status", "Start time", "Finish time", "Fail time", "Download URL", "Task Action"]) {
    if (!headers.includes(h)) throw new Error(`export history lacks the ${h} column`);
  }
  await page.waitForSelector("#exports tbody button:has-text('Download')");
  await page.screenshot({ path: join(shots, "export-history.png"), fullPage: true });

  // Imports with their summary.
  await page.click('#tabs button[data-tab="imports"]');
  await page.waitForSelector("#imports tbody tr[data-job]");
  await page.click("#imports tbody button.link");
  await page.waitForSelector("#import-summary:not([hidden])");
  await page.screenshot({ path: join(shots, "imports.png"), fullPage: true });

  // Sync health chart.
  await page.click('#tabs button[data-tab="health"]');
  await page.waitForSelector('#health-charts .chart[data-flow="invoice-out"] svg');
  const bars = await page.locator('#health-charts .chart[data-flow="invoice-out"] svg rect[fill="#1e8a4c"]:not([height="0"])').count();
  if (bars === 0) throw new Error("the health chart shows no successes for invoice-out");
  await page.screenshot({ path: join(shots, "sync-health.png"), fullPage: true });

  // The other views render (screenshots for a human to look at).
  await page.click('#tabs button[data-tab="lookups"]');
  await page.waitForSelector('#lookup-rows tbody tr[data-key]');
  await page.screenshot({ path: join(shots, "lookups.png"), fullPage: true });
  await page.click('#tabs button[data-tab="manager"]');
  await page.fill("#period", "202611");
  await page.click("#refresh-manager");
  await page.waitForSelector('#integrations .integration[data-integration="month-end"] table');
  await page.screenshot({ path: join(shots, "integrations-manager.png"), fullPage: true });
  await page.click('#tabs button[data-tab="notifications"]');
  await page.waitForSelector("#notification-list li");
  await page.screenshot({ path: join(shots, "notifications.png"), fullPage: true });
  await page.click('#tabs button[data-tab="connections"]');
  await page.waitForSelector("#exact-connection dd");
  await page.screenshot({ path: join(shots, "connections.png"), fullPage: true });

  // Keys have roles: an admin sees every action; a viewer's page hides what its role cannot do (the API
  // refuses it anyway, 403).
  const adminActions = ["#pause", "#resume", "#test-exact"];
  for (const sel of adminActions) {
    if (!(await page.locator(sel).isVisible())) throw new Error(`an admin does not see ${sel}`);
  }
  const issued = await fetch(`${base}/api/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ user: "browser-viewer", role: "viewer" }),
  });
  if (issued.status !== 201) throw new Error(`issuing a viewer key answered ${issued.status}`);
  const viewerKey = (await issued.json()).token;
  const viewer = await context.newPage();
  await viewer.goto(`${base}/#key=${viewerKey}`);
  await viewer.waitForFunction(() => document.body.dataset.role === "viewer");
  if (!(await viewer.locator("#who").textContent()).includes("viewer")) throw new Error("the page does not show the role");
  await viewer.click('#tabs button[data-tab="connections"]');
  await viewer.waitForSelector("#exact-connection dd");
  for (const sel of adminActions) {
    if (await viewer.locator(sel).isVisible()) throw new Error(`a viewer sees ${sel}`);
  }
  await viewer.click('#tabs button[data-tab="exports"]');
  await viewer.waitForSelector("#exports tbody tr[data-job]");
  for (const sel of ["#new-definition", "#run-export", ".run-definition", ".delete-definition"]) {
    if (await viewer.locator(sel).first().isVisible()) throw new Error(`a viewer sees ${sel}`);
  }
  await viewer.click('#tabs button[data-tab="lookups"]');
  await viewer.waitForSelector("#lookup-rows tbody tr[data-key]");
  if (await viewer.locator("#lookup-form").isVisible()) throw new Error("a viewer sees the lookup form");
  await viewer.screenshot({ path: join(shots, "viewer.png"), fullPage: true });
  await viewer.close();

  if (errors.length) throw new Error(errors.join("\n"));
  console.log("browser test passed; screenshots in", shots);
} catch (e) {
  failed = true;
  console.error("browser test FAILED:", e.message);
  for (const line of errors) console.error(line);
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: join(shots, "failure.png"), fullPage: true });
  } catch (_) { /* best effort */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
