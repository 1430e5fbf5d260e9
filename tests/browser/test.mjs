// Browser test of the operator page: opens it in Debian's chromium through playwright-core, filters the
// Integration page to Error, selects the failing invoice, clicks FORCE SYNCHRONIZE and waits until the
// object shows SUCCESS; takes screenshots of the Integration page, the export history, imports and the
// sync-health chart. Exits non-zero on any failure (including a JavaScript error on the page).
//
// Environment: BASE_URL, API_KEY, FORCE_KEY (printed by the Rust fixture), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
mkdirSync(shots, { recursive: true });
const { BASE_URL: base, API_KEY: key, FORCE_KEY: forceKey } = process.env;
if (!base || !key || !forceKey) {
  console.error("BASE_URL, API_KEY and FORCE_KEY are required");
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
