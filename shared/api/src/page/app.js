// Ledgerlink operator page: vanilla JS over the JSON API. The API key lives in sessionStorage (this tab
// only); the local stack may hand it over in the URL fragment (#key=llk_...), which never reaches a server.
"use strict";

const KEY_STORAGE = "ledgerlink.apiKey";
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = {
  key: null,
  tab: "integration",
  category: "",
  objects: [],
  objectsCursor: null,
  selected: new Map(),
  exportsCursor: null,
  exportsPoll: null,
  sources: null,
  definitions: [],
  editing: null,
  lookupCursor: null,
  lookupFix: null,
  detail: null,
};

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${String(d.getFullYear()).slice(2)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function flash(message, bad = false) {
  const node = $("#flash");
  node.textContent = message;
  node.classList.toggle("bad", bad);
  node.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { node.hidden = true; }, 6000);
}

class ApiFailure extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// `version`: the version the change is based on (PUT), sent as `If-Match` (the API's ETag is `"<version>"`);
// a stale one is a 412.
async function api(method, path, body, raw = false, version = null) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (version !== null && version !== undefined) headers["If-Match"] = `"${version}"`;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 401) {
    signOut("The API key was refused; enter it again.");
    throw new ApiFailure(401, null);
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch (_) { /* not JSON */ }
    throw new ApiFailure(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

function guard(fn) {
  return async (...args) => {
    try { await fn(...args); } catch (e) {
      if (e instanceof ApiFailure && e.status === 401) return;
      flash(e.message || String(e), true);
    }
  };
}

// The five statuses of the Integration page (seed 002), as the page explains them on hover and in its help.
const STATUS_HELP = {
  "success": "Success: the object is in the other system as it is now.",
  "error": "Error: the last attempt was refused; the message says why and what to fix (Add to … lookup when a row is missing), then Force synchronize.",
  "pending": "Pending: queued or being sent; it changes on its own.",
  "outcome-unknown": "Pending: the last answer was lost; the next attempt looks the document up before writing.",
  "not-integrated": "Not integrated: found but not sent (filtered out, or waiting for what it depends on).",
  "desynchronized": "Desynchronized: changed in one system after it was synced; Synchronize writes the owner's values.",
  "started": "Started: the job is running; progress moves as rows are written.",
  "finished": "Finished: the file is ready to download.",
  "failed": "Failed: see the reason; Reset Task runs it again.",
};

function statusCell(status, label) {
  return el("span", { class: `status ${status}`, "data-status": status, title: STATUS_HELP[status] || null, text: label || status });
}

// A discovery window (`2026-12-04T14:39:22Z/2026-12-04T14:40:24Z`) or `start` is no version a person knows:
// show when the document was found instead, with the raw value on hover.
function readableVersion(version) {
  if (!version) return "";
  const found = /^\d{4}-\d{2}-\d{2}T[^/]*\/(\d{4}-\d{2}-\d{2}T.*)$/.exec(version);
  if (found) return `posted ${fmtTime(found[1]).slice(0, 8)}`;
  if (version === "start") return "first load";
  return version;
}

// On hover: when the document was found, in words.
function versionTitle(version) {
  const found = /^(\d{4}-\d{2}-\d{2}T[^/]*)\/(\d{4}-\d{2}-\d{2}T.*)$/.exec(version || "");
  return found ? `Posted in the source between ${fmtTime(found[1])} and ${fmtTime(found[2])}` : version || "";
}

// Messages name their record ("invoice 000000010804.202612.3: ..."); the row already shows it.
function shortMessage(o) {
  let message = o.last_message || "";
  const at = message.indexOf(`${o.key}: `);
  if (at >= 0 && at < 40) message = message.slice(at + o.key.length + 2);
  // ... and once more when the mapping named the record its own way ("ap-voucher V1.(no voucher number): ").
  const own = new RegExp(`^${o.type.replace(/[^a-z-]/g, "")} [^:]{1,80}: `);
  return message.replace(own, "");
}

// The remedy the status carries (`fix`): open the lookup row to add, or synchronize the firm first.
function fixButton(o) {
  const fix = o.fix;
  if (!fix || o.status !== "error") return null;
  if (fix.kind === "lookup") {
    return el("button", { type: "button", class: "fix needs-admin", "data-fix": fix.table, text: `Add to ${fix.table} lookup`,
      title: `Opens the ${fix.table} lookup table with the row to add filled in`, onclick: guard(() => openLookupFix(fix, o)) });
  }
  if (fix.kind === "firm_sync") {
    return el("button", { type: "button", class: "fix needs-operator", "data-fix": "firm", text: `Synchronize firm ${fix.firm}`,
      onclick: guard(async () => {
        const answer = await api("POST", "/api/objects/synchronize", { objects: [{ type: "firm", key: fix.firm }] });
        const r = answer.results[0];
        flash(r && r.result === "accepted" ? `Firm ${fix.firm} is being synchronized; then Synchronize this document.` : `Firm ${fix.firm}: ${r ? r.reason || r.result : "refused"}`, !(r && r.result === "accepted"));
        await loadObjects(true);
      }) });
  }
  return null;
}

// `000000010804.202612.3` is invoice 000000010804 of period 2026/12 (posting 3).
function readableKey(key) {
  const m = /^([^.]+)\.(\d{4})(\d{2})\.(\d+)$/.exec(key);
  return m ? `${m[1]} (${m[2]}/${m[3]})` : key;
}

// ---------------------------------------------------------------------------------------------------
// Sign in
// ---------------------------------------------------------------------------------------------------

// The tenant a key names (`llk_<tenant>_<secret>`), or "" for a key of another shape.
function keyTenant(key) {
  const m = /^llk_(.+)_[0-9a-f]{64}$/.exec(key || "");
  return m ? m[1] : "";
}

// A key from a link (#key=) never silently replaces the key this tab is signed in with for another
// tenant: a link made by someone else would otherwise make the user type secrets into THEIR tenant.
function readKey() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get("key");
  const current = sessionStorage.getItem(KEY_STORAGE);
  if (fromHash) {
    history.replaceState(null, "", location.pathname + location.search);
    if (current && current !== fromHash && keyTenant(current) !== keyTenant(fromHash)) {
      const switchTenant = confirm(
        `This link signs you in to tenant "${keyTenant(fromHash) || "?"}" instead of "${keyTenant(current) || "?"}". ` +
        `Everything you enter afterwards (including ERP passwords) goes to "${keyTenant(fromHash) || "?"}". ` +
        `Only continue if you trust who sent you this link. Switch tenant?`);
      if (!switchTenant) return current;
    }
    sessionStorage.setItem(KEY_STORAGE, fromHash);
  }
  return sessionStorage.getItem(KEY_STORAGE);
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  $("#tabs").hidden = true;
  $$(".tab").forEach((t) => { t.hidden = true; });
  $("#forget-key").hidden = true;
  $("#who").textContent = "";
  delete document.body.dataset.role;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
}

async function signIn(key) {
  state.key = key;
  const me = await api("GET", "/api/me");
  sessionStorage.setItem(KEY_STORAGE, key);
  $("#who").textContent = `${me.tenant_name} (${me.tenant}) — ${me.user} (${me.role || "admin"})`;
  // The page hides what the key's role cannot do (app.css: body[data-role] with .needs-operator / .needs-admin);
  // the API refuses it anyway (403).
  document.body.dataset.role = me.role || "admin";
  $("#login").hidden = true;
  $("#tabs").hidden = false;
  $("#forget-key").hidden = false;
  showTab(state.tab);
  refreshUnread();
}

// ---------------------------------------------------------------------------------------------------
// Tabs
// ---------------------------------------------------------------------------------------------------

const loaders = {
  integration: () => loadObjects(true),
  exports: () => loadExports(true),
  imports: () => loadImports(),
  manager: () => loadManager(),
  lookups: () => loadLookups(true),
  notifications: () => loadNotifications(),
  health: () => loadHealth(),
  connections: () => loadConnections(),
};

function showTab(name) {
  state.tab = name;
  $$("#tabs button").forEach((b) => {
    b.classList.toggle("active", b.dataset.tab === name);
    // Screen readers hear which tab is open, not only sighted users (the underline).
    if (b.dataset.tab === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  });
  $$(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
  return guard(loaders[name])();
}

// ---------------------------------------------------------------------------------------------------
// Integration page
// ---------------------------------------------------------------------------------------------------

const TYPES = {
  "finance": ["invoice", "credit-memo", "ap-voucher", "expense-report", "journal-entry", "cash-receipt", "ap-payment", "expense-payment"],
  "master-data": ["firm", "employee", "gl-account", "currency", "tax-code"],
};

function fillTypes() {
  const select = $("#type-filter");
  const current = select.value;
  select.replaceChildren(el("option", { value: "", text: "Any" }));
  const types = state.category ? TYPES[state.category] : [...TYPES["finance"], ...TYPES["master-data"]];
  for (const t of types) select.append(el("option", { value: t, text: t }));
  select.value = types.includes(current) ? current : "";
}

function objectQuery() {
  const params = new URLSearchParams();
  if (state.category) params.set("category", state.category);
  const pairs = [["key_prefix", "#key-prefix"], ["status", "#status-filter"], ["version", "#version-filter"], ["type", "#type-filter"]];
  for (const [name, sel] of pairs) {
    const value = $(sel).value.trim();
    if (value) params.set(name, value);
  }
  params.set("limit", "100");
  return params;
}

const selectionId = (o) => `${o.type}\u0000${o.key}`;

async function loadObjects(reset) {
  const params = objectQuery();
  if (!reset && state.objectsCursor) params.set("cursor", state.objectsCursor);
  const [page, counts] = await Promise.all([
    api("GET", `/api/objects?${params}`),
    reset ? api("GET", "/api/objects/counts") : Promise.resolve(null),
  ]);
  state.objects = reset ? page.items : state.objects.concat(page.items);
  state.objectsCursor = page.next_cursor;
  if (counts) renderCounts(counts);
  renderObjects();
}

function renderCounts(counts) {
  const labels = { "desynchronized": "Desynchronized", "error": "Error", "not-integrated": "Not integrated", "pending": "Pending", "outcome-unknown": "Pending (unknown outcome)", "success": "Success" };
  const node = $("#counts");
  node.replaceChildren(el("span", { text: `Total ${counts.total}` }));
  for (const [status, n] of Object.entries(counts.counts)) {
    node.append(el("span", {}, statusCell(status, labels[status] || status), ` ${n}`));
  }
}

function renderObjects() {
  const body = $("#objects tbody");
  body.replaceChildren();
  if (state.objects.length === 0) {
    body.append(el("tr", {}, el("td", { colspan: "9", class: "hint", text: "No objects match the filters." })));
  }
  for (const o of state.objects) {
    const id = selectionId(o);
    const checked = state.selected.has(id);
    const box = el("input", { type: "checkbox", class: "select", "aria-label": `Select ${o.key}`, checked });
    box.addEventListener("change", () => {
      if (box.checked) state.selected.set(id, { type: o.type, key: o.key });
      else state.selected.delete(id);
      row.classList.toggle("selected", box.checked);
      renderSelection();
    });
    const message = shortMessage(o);
    const row = el("tr", { "data-key": o.key, "data-type": o.type, class: checked ? "selected" : null },
      el("td", {}, box),
      el("td", {}, el("button", { type: "button", class: "link", text: readableKey(o.key), title: o.key, onclick: guard(() => showDetail(o)) })),
      el("td", { text: o.type }),
      el("td", {}, statusCell(o.status, o.status_label)),
      el("td", { class: "version", title: versionTitle(o.version), text: readableVersion(o.version) }),
      el("td", { class: "message" }, el("span", { text: message }), fixButton(o)),
      el("td", { text: o.attempts }),
      el("td", { text: fmtTime(o.updated_at) }),
      el("td", {}, el("button", { type: "button", class: "info", title: "Open the whole message and the history", "aria-label": `Details of ${o.key}`, text: "i", onclick: guard(() => showDetail(o)) })),
    );
    body.append(row);
  }
  $("#more-objects").hidden = !state.objectsCursor;
  $("#select-all").checked = state.objects.length > 0 && state.objects.every((o) => state.selected.has(selectionId(o)));
  renderSelection();
}

function renderSelection() {
  const n = state.selected.size;
  $("#selection-bar").hidden = n === 0;
  $("#selection-count").textContent = `${n} selected`;
}

async function act(path, label) {
  const objects = Array.from(state.selected.values());
  if (objects.length === 0) return;
  const answer = await api("POST", path, { objects });
  const list = $("#action-results");
  list.replaceChildren();
  let accepted = 0;
  for (const r of answer.results) {
    if (r.result === "accepted") accepted += 1;
    list.append(el("li", { class: r.result, "data-key": r.key },
      `${r.key} (${r.type}): ${r.result}${r.reason ? ` — ${r.reason}` : ""}`));
  }
  flash(`${label}: ${accepted} of ${answer.results.length} accepted.`, accepted === 0);
  state.selected.clear();
  await loadObjects(true);
  // The grid updates when the requests complete: poll a few times while selected objects are pending.
  pollPending(10);
}

function pollPending(rounds) {
  if (rounds <= 0 || state.tab !== "integration") return;
  if (!state.objects.some((o) => o.status === "pending" || o.status === "outcome-unknown")) return;
  setTimeout(guard(async () => { await loadObjects(true); pollPending(rounds - 1); }), 1000);
}

const detailPath = (o) => `/api/objects/${encodeURIComponent(o.type)}/${o.key.split("/").map(encodeURIComponent).join("/")}`;

async function showDetail(o) {
  const detail = await api("GET", detailPath(o));
  state.detail = { type: o.type, key: o.key };
  const v = detail.object;
  $("#detail").dataset.key = v.key;
  $("#detail-title").textContent = `${v.type} ${v.key}`;
  const message = el("span", {}, el("span", { text: shortMessage(v) }), fixButton(v));
  const fields = [["Status", statusCell(v.status, v.status_label)], ["Category", v.category], ["Version", readableVersion(v.version)], ["Target id", v.target_id || ""], ["Last message", message], ["Attempts", v.attempts], ["Created", fmtTime(v.created_at)], ["Updated", fmtTime(v.updated_at)]];
  $("#detail-fields").replaceChildren(...fields.flatMap(([k, val]) => [el("dt", { text: k }), el("dd", {}, val)]));
  renderLink(detail);
  $("#detail-history").replaceChildren(...detail.history.map((a) => el("tr", {},
    el("td", { text: a.attempt }), el("td", { text: fmtTime(a.at) }), el("td", {}, statusCell(a.status, a.status_label)), el("td", { text: a.message || "" }))));
  $("#detail").hidden = false;
}

// The ledger link of a firm or employee, and what an operator may do with it.
function renderLink(detail) {
  const actions = detail.link_actions || [];
  const panel = $("#detail-link");
  panel.hidden = actions.length === 0;
  if (panel.hidden) return;
  const link = detail.link;
  const rows = [];
  if (link) {
    const label = [link.code, link.name].filter(Boolean).join(" — ") || link.ledger_id;
    const account = link.url
      ? el("a", { href: link.url, target: "_blank", rel: "noopener noreferrer", id: "link-open", text: label })
      : el("span", { text: label });
    rows.push(["Linked to", account]);
    rows.push(["Ledger id", el("code", { text: link.ledger_id })]);
    if (link.exists === false) rows.push(["Warning", el("span", { class: "error", text: "Exact Online says this account no longer exists" })]);
    rows.push(["Owner", link.owner === "exact" ? "Exact Online (source of truth)" : "Vantagepoint (source of truth)"]);
    rows.push(["Linked", fmtTime(link.linked_at)]);
    if (link.synced_at) rows.push(["Last synchronised", fmtTime(link.synced_at)]);
  } else {
    rows.push(["Linked to", el("span", { class: "hint", text: "Not linked to an Exact Online account" })]);
  }
  $("#detail-link-fields").replaceChildren(...rows.flatMap(([k, val]) => [el("dt", { text: k }), el("dd", {}, val)]));
  $("#link-new-account").hidden = !actions.includes("new-account");
  $("#link-unlink").hidden = !actions.includes("unlink");
  const pick = actions.includes("relink") ? "relink" : actions.includes("adopt") ? "adopt" : null;
  $("#link-form").hidden = !pick;
  $("#link-form").dataset.action = pick || "";
  $("#link-account-label").textContent = pick === "relink" ? "Relink to account" : "Adopt account";
  $("#link-submit").textContent = pick === "relink" ? "Relink" : "Adopt";
  $("#link-account").value = "";
}

async function linkAction(action, account) {
  const o = state.detail;
  if (!o) return;
  const body = { type: o.type, key: o.key, action };
  if (account !== undefined) body.account = account;
  const buttons = $$("#detail-link button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const change = await api("POST", "/api/objects/link", body);
    flash(change.message);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  await showDetail(o);
  await loadObjects(true);
  pollPending(10);
}

// ---------------------------------------------------------------------------------------------------
// Export history
// ---------------------------------------------------------------------------------------------------

const OPS = [
  ["equals", "is"], ["not-equals", "is not"], ["contains", "contains"], ["starts-with", "starts with"],
  ["not-empty", "is filled in"], ["on-or-after", "on or after (date)"], ["before", "before (date)"],
  ["in-period", "in period"],
];

async function loadSources() {
  if (state.sources) return state.sources;
  const sources = await api("GET", "/api/export-sources");
  state.sources = sources;
  $("#def-source").replaceChildren(...sources.items.map((s) => el("option", { value: s.kind, text: s.title })));
  $("#def-table").replaceChildren(...sources.lookup_tables.map((t) => el("option", { value: t, text: t })));
  $("#def-object-type").replaceChildren(el("option", { value: "", text: "Any" }),
    ...[...TYPES["finance"], ...TYPES["master-data"]].map((t) => el("option", { value: t, text: t })));
  return sources;
}

function sourceInfo(kind) {
  return (state.sources ? state.sources.items : []).find((s) => s.kind === kind);
}

function describeSource(source) {
  const info = sourceInfo(source.kind);
  const title = info ? info.title : source.kind;
  const f = source.filter || {};
  const parts = [f.status, f.object_type, source.table, source.job_kind, source.period].filter(Boolean);
  return parts.length ? `${title} (${parts.join(", ")})` : title;
}

async function loadExports(reset) {
  const params = new URLSearchParams({ kind: "export", limit: "50" });
  if (!reset && state.exportsCursor) params.set("cursor", state.exportsCursor);
  const [page, definitions] = await Promise.all([
    api("GET", `/api/jobs?${params}`),
    reset ? api("GET", "/api/export-definitions") : Promise.resolve(null),
    reset ? loadSources().catch(() => null) : Promise.resolve(null),
  ]);
  if (definitions) renderDefinitions(definitions.items);
  const body = $("#exports tbody");
  if (reset) body.replaceChildren();
  for (const job of page.items) body.append(exportRow(job));
  state.exportsCursor = page.next_cursor;
  $("#more-exports").hidden = !state.exportsCursor;
  // Progress that moves: while an export runs, the history refreshes itself every second.
  clearTimeout(state.exportsPoll);
  if (reset && page.items.some((j) => j.status === "started")) {
    state.exportsPoll = setTimeout(() => { if (state.tab === "exports") guard(loadExports)(true); }, 1000);
  }
}

function renderDefinitions(items) {
  state.definitions = items;
  const select = $("#definition-select");
  const chosen = select.value;
  select.replaceChildren(...items.map((d) => el("option", { value: d.id, text: d.name })));
  if (items.some((d) => d.id === chosen)) select.value = chosen;
  $("#run-export").disabled = items.length === 0;
  $("#definitions-empty").hidden = items.length > 0;
  $("#definitions").hidden = items.length === 0;
  $("#definitions tbody").replaceChildren(...items.map((d) => el("tr", { "data-definition": d.id },
    el("td", {}, el("strong", { text: d.name }), d.description ? el("div", { class: "hint", text: d.description }) : null),
    el("td", { text: describeSource(d.source) }),
    el("td", { text: d.columns.map((c) => c.header).join(", ") }),
    el("td", {}, d.format.toUpperCase(), d.schedule ? el("div", { class: "hint schedule", text: describeSchedule(d.schedule) }) : null),
    el("td", { class: "time", text: `${d.updated_by || ""} ${fmtTime(d.updated_at)}`.trim() }),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "run-definition needs-operator", text: "Run", "aria-label": `Run ${d.name}`, onclick: guard(() => runDefinition(d.id)) }),
      el("button", { type: "button", class: "edit-definition needs-operator", text: "Edit", "aria-label": `Edit ${d.name}`, onclick: guard(() => openDefinition(d)) }),
      el("button", { type: "button", class: "copy-definition needs-operator", text: "Copy", "aria-label": `Copy ${d.name}`, onclick: guard(() => copyDefinition(d)) }),
      el("button", { type: "button", class: "delete-definition danger needs-operator", text: "Delete", "aria-label": `Delete ${d.name}`, onclick: guard(() => deleteDefinition(d)) })))));
}

async function runDefinition(id) {
  const job = await api("POST", `/api/export-definitions/${encodeURIComponent(id)}/run`);
  flash(`Export ${job.id} started: ${job.description}.`);
  await loadExports(true);
}

function slug(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
}

function humanize(field) {
  const words = field.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function moveRow(li, delta) {
  const list = li.parentElement;
  if (delta < 0 && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
  if (delta > 0 && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
  renumber(list);
}

function renumber(list) {
  $$("li", list).forEach((li, i) => {
    for (const input of $$("input, select", li)) {
      const what = input.dataset.part;
      input.setAttribute("aria-label", `${list.id === "def-columns" ? "Column" : "Condition"} ${i + 1} ${what}`);
    }
  });
}

function columnRow(column = { field: "", header: "" }) {
  const field = el("input", { class: "col-field", "data-part": "field", list: "def-fields", value: column.field, required: true, size: 18 });
  const header = el("input", { class: "col-header", "data-part": "header", value: column.header, required: true, size: 22 });
  // The header follows the field until the user types one of their own.
  if (!column.header) header.dataset.auto = "1";
  field.addEventListener("input", () => {
    if (header.dataset.auto) header.value = humanize(field.value.trim());
    $("#def-columns").dataset.suggested = "";
  });
  header.addEventListener("input", () => { delete header.dataset.auto; $("#def-columns").dataset.suggested = ""; });
  const li = el("li", { class: "row" }, field, header,
    el("button", { type: "button", class: "icon", text: "↑", "aria-label": "Move column up", onclick: () => moveRow(li, -1) }),
    el("button", { type: "button", class: "icon", text: "↓", "aria-label": "Move column down", onclick: () => moveRow(li, 1) }),
    el("button", { type: "button", class: "icon", text: "✕", "aria-label": "Remove column", onclick: () => { const list = li.parentElement; li.remove(); list.dataset.suggested = ""; renumber(list); } }));
  return li;
}

function conditionRow(condition = { field: "", op: "equals", value: "" }) {
  const op = el("select", { class: "cond-op", "data-part": "operator" }, ...OPS.map(([v, t]) => el("option", { value: v, text: t })));
  op.value = condition.op;
  const li = el("li", { class: "row" },
    el("input", { class: "cond-field", "data-part": "field", list: "def-fields", value: condition.field, size: 16 }),
    op,
    el("input", { class: "cond-value", "data-part": "value", value: condition.value, size: 18 }),
    el("button", { type: "button", class: "icon", text: "✕", "aria-label": "Remove condition", onclick: () => { const list = li.parentElement; li.remove(); renumber(list); } }));
  return li;
}

function sourceChanged(prefill) {
  const kind = $("#def-source").value;
  const info = sourceInfo(kind);
  $("#def-source-hint").textContent = info ? info.description : "";
  $("#def-fields").replaceChildren(...(info ? info.fields : []).map((f) => el("option", { value: f })));
  for (const node of $$("#definition-form .source-opt")) node.hidden = !node.dataset.for.split(" ").includes(kind);
  // A new definition starts with the source's first fields as columns; while the user has not touched
  // them, choosing another source suggests that source's fields instead.
  const list = $("#def-columns");
  if (prefill && info && ($$("li", list).length === 0 || list.dataset.suggested)) {
    list.replaceChildren(...info.fields.slice(0, 4).map((f) => columnRow({ field: f, header: humanize(f) })));
    list.dataset.suggested = "1";
    renumber(list);
  }
}

async function openDefinition(definition) {
  await loadSources();
  const form = $("#definition-form");
  state.editing = definition ? { id: definition.id, version: definition.version } : null;
  const d = definition || { id: "", name: "", description: "", source: { kind: "statuses" }, columns: [], filter: [], format: "csv", file_name: "" };
  $("#definition-form-title").textContent = definition ? `Edit “${d.name}”` : "New export definition";
  $("#def-name").value = d.name;
  $("#def-id").value = d.id;
  $("#def-id").readOnly = Boolean(definition);
  $("#def-id").dataset.auto = definition ? "" : "1";
  $("#def-description").value = d.description || "";
  $("#def-source").value = d.source.kind;
  const f = d.source.filter || {};
  $("#def-status").value = f.status || "";
  $("#def-object-type").value = f.object_type || "";
  if (d.source.table) $("#def-table").value = d.source.table;
  if (d.source.job_kind) $("#def-job-kind").value = d.source.job_kind;
  $("#def-source-period").value = d.source.period || "current";
  $("#def-columns").replaceChildren(...d.columns.map((c) => columnRow(c)));
  $("#def-columns").dataset.suggested = "";
  // The period and the date range have their own fields; other conditions are rows.
  const rest = [...(d.filter || [])];
  const take = (op) => { const i = rest.findIndex((c) => c.op === op); return i < 0 ? null : rest.splice(i, 1)[0]; };
  const period = take("in-period");
  $("#def-period").value = period ? period.value : "";
  $("#def-period-field").value = period ? period.field : "period";
  const from = take("on-or-after");
  const to = take("before");
  $("#def-from").value = from ? from.value : "";
  $("#def-to").value = to ? to.value : "";
  $("#def-date-field").value = (from || to || { field: "updated_at" }).field;
  $("#def-conditions").replaceChildren(...rest.map((c) => conditionRow(c)));
  $(`#definition-form input[name=format][value=${d.format}]`).checked = true;
  $("#def-file-name").value = d.file_name || "";
  const schedule = d.schedule || {};
  $("#def-every").value = schedule.every || "";
  $("#def-weekday").value = String(schedule.weekday || 1);
  $("#def-day").value = String(schedule.day || 1);
  $("#def-at").value = schedule.at || "06:00";
  $("#def-notify").value = schedule.notify || "";
  everyChanged();
  $("#definition-error").textContent = "";
  sourceChanged(!definition);
  renumber($("#def-columns"));
  renumber($("#def-conditions"));
  form.hidden = false;
  form.scrollIntoView({ block: "start" });
  $("#def-name").focus();
}

function everyChanged() {
  const every = $("#def-every").value;
  for (const node of $$("#definition-form .every-opt")) node.hidden = !every || !node.dataset.for.split(" ").includes(every);
}

function describeSchedule(s) {
  if (!s) return "";
  const days = ["", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const when = s.every === "daily" ? "every day" : s.every === "weekly" ? `every ${days[s.weekday] || "week"}` : `day ${s.day} of every month`;
  return `${when} at ${s.at} UTC${s.notify ? `, mailed to ${s.notify}` : ""}`;
}

function readDefinition() {
  const kind = $("#def-source").value;
  const source = { kind };
  if (kind === "statuses" || kind === "status-history") {
    source.filter = {};
    if ($("#def-status").value) source.filter.status = $("#def-status").value;
    if ($("#def-object-type").value) source.filter.object_type = $("#def-object-type").value;
  }
  if (kind === "lookup") source.table = $("#def-table").value;
  if (kind === "jobs") source.job_kind = $("#def-job-kind").value;
  if (kind === "integration-periods") source.period = $("#def-source-period").value.trim() || "current";
  const columns = $$("#def-columns li").map((li) => ({
    field: $(".col-field", li).value.trim(), header: $(".col-header", li).value.trim(),
  }));
  const filter = [];
  if ($("#def-period").value.trim()) filter.push({ field: $("#def-period-field").value.trim() || "period", op: "in-period", value: $("#def-period").value.trim() });
  const dateField = $("#def-date-field").value.trim() || "updated_at";
  if ($("#def-from").value) filter.push({ field: dateField, op: "on-or-after", value: $("#def-from").value });
  if ($("#def-to").value) filter.push({ field: dateField, op: "before", value: $("#def-to").value });
  for (const li of $$("#def-conditions li")) {
    const field = $(".cond-field", li).value.trim();
    if (field) filter.push({ field, op: $(".cond-op", li).value, value: $(".cond-value", li).value.trim() });
  }
  const definition = {
    id: $("#def-id").value.trim(), name: $("#def-name").value.trim(), description: $("#def-description").value.trim(),
    source, columns, filter, format: $("#definition-form input[name=format]:checked").value,
  };
  const every = $("#def-every").value;
  if (every) {
    definition.schedule = { every, at: $("#def-at").value || "06:00" };
    if (every === "weekly") definition.schedule.weekday = Number($("#def-weekday").value);
    if (every === "monthly") definition.schedule.day = Number($("#def-day").value);
    if ($("#def-notify").value.trim()) definition.schedule.notify = $("#def-notify").value.trim();
  }
  const fileName = $("#def-file-name").value.trim();
  if (fileName) definition.file_name = fileName;
  if (state.editing) definition.version = state.editing.version;
  return definition;
}

function definitionProblem(definition) {
  if (!definition.name) return ["#def-name", "Give the definition a name."];
  if (!/^[a-z0-9-]{1,64}$/.test(definition.id)) return ["#def-id", "The id must be 1 to 64 lower-case letters, digits or -."];
  if (definition.columns.length === 0) return ["#add-column", "Add at least one column."];
  const blank = definition.columns.findIndex((c) => !c.field || !c.header);
  if (blank >= 0) return [`#def-columns li:nth-child(${blank + 1}) input`, `Column ${blank + 1} needs a field and a header.`];
  return null;
}

async function saveDefinition(event) {
  event.preventDefault();
  const run = event.submitter && event.submitter.id === "save-run-definition";
  const definition = readDefinition();
  const problem = definitionProblem(definition);
  const error = $("#definition-error");
  if (problem) {
    error.textContent = problem[1];
    const field = $(problem[0]);
    if (field) field.focus();
    return;
  }
  try {
    const saved = state.editing
      ? await api("PUT", `/api/export-definitions/${encodeURIComponent(state.editing.id)}`, definition, false, state.editing.version)
      : await api("POST", "/api/export-definitions", definition);
    error.textContent = "";
    $("#definition-form").hidden = true;
    state.editing = null;
    flash(`Export definition “${saved.name}” saved.`);
    if (run) await runDefinition(saved.id);
    else await loadExports(true);
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) return;
    error.textContent = e.message;
  }
}

async function copyDefinition(d) {
  const name = prompt("Name of the copy", `${d.name} (copy)`);
  if (name === null || !name.trim()) return;
  const taken = new Set((state.definitions || []).map((x) => x.id));
  let id = slug(name) || `${d.id}-copy`;
  for (let n = 2; taken.has(id); n += 1) id = `${slug(name).slice(0, 60)}-${n}`;
  const copy = await api("POST", `/api/export-definitions/${encodeURIComponent(d.id)}/copy`, { id, name: name.trim() });
  flash(`Copied to “${copy.name}”; change what differs and save.`);
  await loadExports(true);
  await openDefinition(copy);
}

async function deleteDefinition(d) {
  if (!confirm(`Delete the export definition “${d.name}”? Exports already made stay in the history.`)) return;
  await api("DELETE", `/api/export-definitions/${encodeURIComponent(d.id)}`);
  flash(`Export definition “${d.name}” deleted.`);
  if (state.editing && state.editing.id === d.id) $("#definition-form").hidden = true;
  await loadExports(true);
}

function taskAction(job, reload) {
  if (!job.actions || job.actions.length === 0) return "";
  const select = el("select", { class: "needs-operator", "aria-label": `Task action for ${job.id}` },
    el("option", { value: "", text: "—" }),
    job.actions.includes("mark-failed") ? el("option", { value: "mark-failed", text: "Mark task as failed" }) : null,
    job.actions.includes("reset") ? el("option", { value: "reset", text: "Reset Task" }) : null);
  select.addEventListener("change", guard(async () => {
    const action = select.value;
    select.value = "";
    if (action === "mark-failed") {
      const reason = prompt("Why is the task marked as failed?", "no longer progressing");
      if (reason === null) return;
      await api("POST", `/api/jobs/${job.id}/mark-failed`, { reason });
      flash(`Task ${job.id} marked as failed.`);
    } else if (action === "reset") {
      const next = await api("POST", `/api/jobs/${job.id}/reset`);
      flash(`Task ${job.id} reset: new task ${next.id} queued.`);
    }
    await reload();
  }));
  return select;
}

function exportRow(job) {
  const total = job.total === null || job.total === undefined ? null : job.total;
  const progressText = `${job.processed} / ${total === null ? "?" : total}`;
  const progress = el("td", { class: "progress" },
    job.status === "started" && total ? el("progress", { max: String(total), value: String(job.processed), "aria-label": `Progress of ${job.id}` }) : null,
    el("span", { class: "progress-text", text: progressText }));
  const download = job.downloadable
    ? el("button", { type: "button", class: "link download", text: "Download", "aria-label": `Download export ${job.id}`, onclick: guard(async () => {
      const link = await api("POST", `/api/jobs/${job.id}/download`);
      window.location.assign(link.url);
    }) })
    : "";
  const failed = el("td", { class: "time" }, fmtTime(job.failed_at),
    job.fail_reason ? el("div", { class: "fail-reason", text: job.fail_reason }) : null);
  return el("tr", { "data-job": job.id, "data-status": job.status },
    el("td", { text: job.id }), el("td", { text: job.description }), el("td", { text: job.created_by }),
    progress, el("td", {}, statusCell(job.status, job.status)),
    el("td", { class: "time", text: fmtTime(job.started_at) }), el("td", { class: "time", text: fmtTime(job.finished_at) }),
    failed, el("td", {}, download), el("td", {}, taskAction(job, () => loadExports(true))));
}

// ---------------------------------------------------------------------------------------------------
// Imports
// ---------------------------------------------------------------------------------------------------

async function loadImports() {
  const [templates, page] = await Promise.all([
    api("GET", "/api/imports/templates"),
    api("GET", "/api/jobs?kind=import&limit=50"),
  ]);
  const body = $("#templates tbody");
  body.replaceChildren(...templates.items.map((t) => {
    const file = el("input", { type: "file", accept: ".csv,.xlsx", "aria-label": `File for ${t.title}` });
    const upload = el("button", { type: "button", class: "needs-operator", text: "Upload", onclick: guard(async () => {
      const chosen = file.files[0];
      if (!chosen) { flash("Choose a file first.", true); return; }
      const format = chosen.name.toLowerCase().endsWith(".xlsx") ? "xlsx" : "csv";
      const partial = $("#import-partial").checked;
      const job = await api("POST", `/api/imports?template=${encodeURIComponent(t.name)}&format=${format}&partial=${partial}`, chosen);
      flash(`Import ${job.id} queued.`);
      await loadImports();
    }) });
    const downloads = ["xlsx", "csv"].map((format) => el("button", { type: "button", class: "link", text: format.toUpperCase(), onclick: guard(async () => {
      const response = await api("GET", `/api/imports/templates/${encodeURIComponent(t.name)}?format=${format}`, undefined, true);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: `${t.name}.${format}` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    }) }));
    return el("tr", {}, el("td", { text: t.title }), el("td", {}, "Download ", ...downloads), el("td", {}, file, " ", upload));
  }));
  const history = $("#imports tbody");
  history.replaceChildren(...page.items.map((job) => el("tr", { "data-job": job.id },
    el("td", { text: job.id }), el("td", { text: job.description }), el("td", { text: job.created_by }),
    el("td", {}, statusCell(job.status, job.status)), el("td", { text: fmtTime(job.started_at) }),
    el("td", { text: fmtTime(job.finished_at || job.failed_at) }),
    el("td", {}, job.summary_text ? el("button", { type: "button", class: "link", text: job.summary_text, onclick: () => showSummary(job) }) : (job.fail_reason || "")),
    el("td", {}, taskAction(job, loadImports)))));
}

function showSummary(job) {
  const node = $("#import-summary");
  const s = job.summary || {};
  node.replaceChildren(el("strong", { text: `Import ${job.id}: ${job.summary_text}` }));
  const errors = (s.errors || []).map((e) => el("li", { text: `${e.row ? `Row ${e.row}` : "File"}${e.column ? `, ${e.column}` : ""}: ${e.message}` }));
  const skipped = (s.skipped || []).map((r) => el("li", { text: `Row ${r.row} skipped: ${r.reason}` }));
  if (errors.length || skipped.length) node.append(el("ul", {}, errors, skipped));
  node.classList.toggle("bad", errors.length > 0);
  node.hidden = false;
}

// ---------------------------------------------------------------------------------------------------
// Integrations Manager
// ---------------------------------------------------------------------------------------------------

async function loadManager() {
  const list = await api("GET", "/api/integrations");
  const period = $("#period").value.trim();
  const root = $("#integrations");
  root.replaceChildren();
  if (list.items.length === 0) root.append(el("p", { class: "hint", text: "No integrations yet." }));
  for (const integration of list.items) {
    const card = el("div", { class: "integration", "data-integration": integration.id },
      el("h3", { text: `${integration.name} (${integration.id})` }), el("p", { class: "hint", text: integration.description }));
    root.append(card);
    try {
      const overview = await api("GET", `/api/integrations/${encodeURIComponent(integration.id)}/periods/${encodeURIComponent(period || "current")}`);
      const rows = [...overview.import_tasks, ...overview.export_tasks].map((t) => el("tr", {},
        el("td", { text: t.task }), el("td", {}, statusCell(t.state === "run" ? "finished" : t.state === "failed" ? "failed" : "not-integrated", t.state.replace("-", " "))),
        el("td", { text: t.job_id || "" }), el("td", { text: t.message || "" }), el("td", { text: fmtTime(t.at) }),
        el("td", {}, t.task.startsWith("export:") ? el("button", { type: "button", class: "needs-operator", text: "Run", onclick: guard(async () => {
          await api("POST", `/api/integrations/${encodeURIComponent(integration.id)}/run`, { definitions: [t.task.slice(7)], period: period || null });
          flash(`Export ${t.task.slice(7)} queued.`);
          await loadManager();
        }) }) : "")));
      card.append(el("p", { text: `Period ${overview.period}` }),
        el("table", { class: "grid small" }, el("thead", {}, el("tr", {}, ["Task", "State", "Job", "Message", "At", ""].map((h) => el("th", { text: h })))), el("tbody", {}, rows)),
        el("button", { type: "button", class: "needs-operator", text: "Run all export tasks", onclick: guard(async () => {
          const jobs = await api("POST", `/api/integrations/${encodeURIComponent(integration.id)}/run`, { period: period || null });
          flash(`${jobs.items.length} export task(s) queued.`);
          await loadManager();
        }) }),
        el("button", { type: "button", class: "link needs-operator", text: "Delete", onclick: guard(async () => {
          if (!confirm(`Delete integration ${integration.name}?`)) return;
          await api("DELETE", `/api/integrations/${encodeURIComponent(integration.id)}`);
          await loadManager();
        }) }));
    } catch (e) {
      card.append(el("p", { class: "error", text: e.message }));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Lookup tables
// ---------------------------------------------------------------------------------------------------

async function loadLookups(reset) {
  const select = $("#lookup-table");
  if (select.options.length === 0) {
    const tables = await api("GET", "/api/lookups");
    select.replaceChildren(...tables.tables.map((t) => el("option", { value: t, text: t })));
  }
  const params = new URLSearchParams({ limit: "100" });
  if (!reset && state.lookupCursor) params.set("cursor", state.lookupCursor);
  const page = await api("GET", `/api/lookups/${select.value}?${params}`);
  const body = $("#lookup-rows tbody");
  if (reset) {
    // The editor may sit inside the table (editing a row in place): park it below the table first.
    parkLookupForm();
    body.replaceChildren();
  }
  for (const row of page.items) {
    body.append(el("tr", { "data-key": row.key },
      el("td", { text: row.key }),
      el("td", { text: Object.entries(row.columns).map(([k, v]) => `${k}=${v}`).join(", ") }),
      el("td", { text: row.version }), el("td", { text: fmtTime(row.updated_at) }), el("td", { text: row.updated_by }),
      el("td", {}, el("button", { type: "button", class: "link needs-admin", text: "Edit", "aria-label": `Edit ${row.key}`, onclick: () => editLookup(row) }),
        el("button", { type: "button", class: "link needs-admin", text: "Delete", "aria-label": `Delete ${row.key}`, onclick: guard(async () => {
          if (!confirm(`Delete ${row.key}?`)) return;
          await api("DELETE", `/api/lookups/${select.value}/${encodeURIComponent(row.key)}`);
          await loadLookups(true);
        }) }))));
  }
  state.lookupCursor = page.next_cursor;
  $("#more-lookups").hidden = !state.lookupCursor;
}

// The row editor lives below the table for a new row, and in a table row right under the row being edited.
function parkLookupForm() {
  const form = $("#lookup-form");
  const holder = form.closest("tr.editing");
  if (!holder) return;
  $("#lookup-form-home").append(form);
  holder.remove();
}

function editLookup(row, prefill) {
  parkLookupForm();
  showLookupError(null);
  $("#lookup-form-title").textContent = row ? `Edit ${row.key} (version ${row.version})` : "Add a row";
  $("#lookup-key").value = row ? row.key : (prefill && prefill.key) || "";
  $("#lookup-key").readOnly = Boolean(row);
  const columns = row ? row.columns : (prefill && prefill.columns) || {};
  $("#lookup-columns").value = Object.entries(columns).map(([k, v]) => `${k}=${v}`).join("\n");
  $("#lookup-version").value = row ? row.version : "";
  $("#lookup-key-hint").textContent = (prefill && prefill.keyLabel) ? `The key is the ${prefill.keyLabel}.` : "";
  if (row) {
    const tr = $$("#lookup-rows tbody tr").find((r) => r.dataset.key === row.key);
    if (tr) {
      const holder = el("tr", { class: "editing" }, el("td", { colspan: "6" }));
      tr.after(holder);
      holder.firstChild.append($("#lookup-form"));
    }
    $("#lookup-columns").focus();
  }
}

// An error the API gave for a row, shown next to the field it names.
function showLookupError(problem) {
  const node = $("#lookup-error");
  $$("#lookup-form [aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  if (!problem) { node.textContent = ""; node.hidden = true; return; }
  const field = problem.field || "";
  const detail = problem.detail || "The row was refused.";
  // The API's detail starts with the field's name; next to the field, the rest says it.
  node.textContent = field && detail.startsWith(`${field}: `) ? detail.slice(field.length + 2) : detail;
  node.hidden = false;
  const target = field === "key" ? $("#lookup-key") : field.startsWith("columns") ? $("#lookup-columns") : null;
  if (target) { target.setAttribute("aria-invalid", "true"); target.focus(); }
}

function parseColumns(text) {
  const columns = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`"${line}" is not name=value`);
    columns[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return columns;
}

async function saveLookup(event) {
  event.preventDefault();
  let columns;
  try { columns = parseColumns($("#lookup-columns").value); } catch (e) {
    showLookupError({ detail: e.message, field: "columns" });
    return;
  }
  const version = $("#lookup-version").value ? Number($("#lookup-version").value) : null;
  const key = $("#lookup-key").value.trim();
  try {
    await api("PUT", `/api/lookups/${$("#lookup-table").value}/${encodeURIComponent(key)}`, { columns, version }, false, version);
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 409 && version === null && state.lookupFix) {
      // The row exists (set-up may have proposed it): edit it with the values entered, from its version.
      const existing = await api("GET", `/api/lookups/${$("#lookup-table").value}?limit=500`);
      const row = existing.items.find((r) => r.key === key);
      if (row) {
        const fixing = state.lookupFix;
        editLookup({ ...row, columns: { ...row.columns, ...columns } });
        state.lookupFix = fixing;
        showLookupError({ detail: `The row ${key} exists already; these are its values with yours. Save again to replace them.` });
        return;
      }
    }
    if (e instanceof ApiFailure && (e.status === 409 || e.status === 412)) { flash(`${e.message} The table was reloaded.`, true); await loadLookups(true); return; }
    if (e instanceof ApiFailure && e.status === 400) { showLookupError(e.problem); return; }
    throw e;
  }
  const fixing = state.lookupFix;
  state.lookupFix = null;
  editLookup(null);
  await loadLookups(true);
  flash(`Row ${key} saved.`);
  if (fixing) offerResync(fixing);
}

// After the row a failure asked for is saved: send the object again from here. It is in Error, so this is
// the Integration page's Force synchronize for that one object.
function offerResync(o) {
  const node = $("#lookup-fix-next");
  const label = `${o.type} ${readableKey(o.key)}`;
  node.replaceChildren(
    el("span", { text: `The row ${label} needed is saved. ` }),
    el("button", { type: "button", id: "resync-fixed", class: "primary needs-operator", text: `Synchronize ${label} again`,
      onclick: guard(async () => {
        const answer = await api("POST", "/api/objects/force-synchronize", { objects: [{ type: o.type, key: o.key }] });
        const r = answer.results[0];
        node.replaceChildren();
        if (!r || r.result !== "accepted") { flash(`${label}: ${r ? r.reason || r.result : "refused"}`, true); return; }
        flash(`${label} is being synchronized.`);
        $("#key-prefix").value = o.key;
        $("#status-filter").value = "";
        await showTab("integration");
        pollPending(15);
      }) }));
  node.hidden = false;
  $("#resync-fixed").focus();
}

// From an object's fix: the lookup table it names, with a new row filled in as far as the failure tells.
async function openLookupFix(fix, o) {
  $("#detail").hidden = true;
  const select = $("#lookup-table");
  if (select.options.length === 0) {
    const tables = await api("GET", "/api/lookups");
    select.replaceChildren(...tables.tables.map((t) => el("option", { value: t, text: t })));
  }
  select.value = fix.table;
  await showTab("lookups");
  const columns = {};
  for (const c of fix.columns || []) columns[c] = (fix.values || {})[c] || "";
  for (const [c, v] of Object.entries(fix.values || {})) columns[c] = v;
  state.lookupFix = { type: o.type, key: o.key };
  $("#lookup-fix-next").hidden = true;
  editLookup(null, { key: fix.key || "", columns, keyLabel: fix.key_label });
  (fix.key ? $("#lookup-columns") : $("#lookup-key")).focus();
}

// A lookup table as CSV: `key` then every column any row has, one row per line (the Import CSV format).
function csvCell(value) {
  const text = String(value ?? "");
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell); cell = "";
      if (row.some((x) => x !== "")) rows.push(row);
      row = [];
    } else cell += c;
  }
  row.push(cell);
  if (row.some((x) => x !== "")) rows.push(row);
  return rows;
}

async function allLookupRows(table) {
  const rows = [];
  let cursor = null;
  do {
    const params = new URLSearchParams({ limit: "500" });
    if (cursor) params.set("cursor", cursor);
    const page = await api("GET", `/api/lookups/${table}?${params}`);
    rows.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

async function exportLookup() {
  const table = $("#lookup-table").value;
  const rows = await allLookupRows(table);
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.columns)))].sort();
  const lines = [["key", ...names].map(csvCell).join(",")];
  for (const r of rows) lines.push([r.key, ...names.map((n) => r.columns[n] ?? "")].map(csvCell).join(","));
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
  const link = el("a", { href: URL.createObjectURL(blob), download: `${table}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  flash(`Exported ${rows.length} rows of ${table}.`);
}

// Import CSV: each line creates its row or updates the row with that key; refused lines are listed with why.
async function importLookup(file) {
  const table = $("#lookup-table").value;
  const rows = parseCsv(await file.text());
  const results = $("#lookup-import-results");
  results.replaceChildren();
  if (rows.length === 0 || rows[0][0].trim().toLowerCase() !== "key") {
    results.append(el("li", { class: "refused", text: "The first line must be the header: key, then the column names." }));
    return;
  }
  const header = rows[0].map((h) => h.trim());
  const existing = new Map((await allLookupRows(table)).map((r) => [r.key, r]));
  let saved = 0;
  for (const [i, cells] of rows.slice(1).entries()) {
    const key = (cells[0] || "").trim();
    const columns = {};
    header.slice(1).forEach((name, j) => { if (name && (cells[j + 1] ?? "") !== "") columns[name] = cells[j + 1].trim(); });
    const version = existing.has(key) ? existing.get(key).version : null;
    try {
      await api("PUT", `/api/lookups/${table}/${encodeURIComponent(key)}`, { columns, version }, false, version);
      saved += 1;
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 401) throw e;
      results.append(el("li", { class: "refused", "data-line": i + 2, text: `Line ${i + 2} (${key || "no key"}): ${e.message}` }));
    }
  }
  flash(`Imported ${saved} of ${rows.length - 1} rows into ${table}.`, saved < rows.length - 1);
  await loadLookups(true);
}

// ---------------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------------

async function refreshUnread() {
  try {
    const page = await api("GET", "/api/notifications?limit=100");
    const unread = page.items.filter((n) => !n.read_at).length;
    $("#unread").textContent = unread ? String(unread) : "";
  } catch (_) { /* shown elsewhere */ }
}

async function loadNotifications() {
  const page = await api("GET", "/api/notifications?limit=100");
  const list = $("#notification-list");
  list.replaceChildren();
  if (page.items.length === 0) list.append(el("li", { class: "hint", text: "No notifications." }));
  for (const n of page.items) {
    list.append(el("li", { class: n.read_at ? "" : "unread" },
      el("strong", { text: n.subject }), el("div", { text: n.body }),
      el("div", { class: "meta", text: `${n.kind} · to ${n.recipient} · ${fmtTime(n.created_at)}` }),
      n.read_at ? null : el("button", { type: "button", class: "link", text: "Mark as read", onclick: guard(async () => {
        await api("POST", `/api/notifications/${encodeURIComponent(n.id)}/read`);
        await loadNotifications();
      }) })));
  }
  $("#unread").textContent = page.items.filter((n) => !n.read_at).length || "";
}

// ---------------------------------------------------------------------------------------------------
// Sync health chart (inline SVG)
// ---------------------------------------------------------------------------------------------------

async function loadHealth() {
  const hours = $("#health-hours").value;
  const health = await api("GET", `/api/health/sync?hours=${hours}`);
  const root = $("#health-charts");
  root.replaceChildren();
  for (const flow of health.flows) root.append(chart(flow));
}

function chart(flow) {
  const W = 440, H = 170, left = 34, bottom = 22, top = 8;
  const n = flow.buckets.length;
  const max = Math.max(1, ...flow.buckets.map((b) => Math.max(b.success, b.error)));
  const plotW = W - left - 6, plotH = H - top - bottom;
  const bw = plotW / n;
  const y = (v) => top + plotH - (v / max) * plotH;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: String(W), height: String(H), role: "img", "aria-label": `${flow.flow}: ${flow.success} successes, ${flow.error} errors` });
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    root.append(svg("line", { x1: left, x2: W - 6, y1: y(v), y2: y(v), stroke: "#e3e7ee" }),
      svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", "font-size": "10", fill: "#5d6778" }, v));
  }
  flow.buckets.forEach((b, i) => {
    const x = left + i * bw;
    const half = Math.max(1, bw / 2 - 1);
    const ok = svg("rect", { x: x + 0.5, y: y(b.success), width: half, height: top + plotH - y(b.success), fill: "#1e8a4c" });
    ok.append(svg("title", {}, `${fmtTime(b.start)}: ${b.success} successes`));
    const ko = svg("rect", { x: x + 0.5 + half, y: y(b.error), width: half, height: top + plotH - y(b.error), fill: "#c0392b" });
    ko.append(svg("title", {}, `${fmtTime(b.start)}: ${b.error} errors`));
    root.append(ok, ko);
    const every = Math.max(1, Math.ceil(n / 6));
    if (i % every === 0) {
      const d = new Date(b.start);
      root.append(svg("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle", "font-size": "10", fill: "#5d6778" }, `${String(d.getHours()).padStart(2, "0")}:00`));
    }
  });
  root.append(svg("line", { x1: left, x2: W - 6, y1: top + plotH, y2: top + plotH, stroke: "#9aa3b2" }));
  return el("div", { class: "chart", "data-flow": flow.flow },
    el("h3", { text: flow.flow }), el("div", { class: "totals", text: `${flow.success} successes · ${flow.error} errors` }), root);
}

// ---------------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------------

function describe(node, fields) {
  node.replaceChildren(...fields.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
}

async function loadConnections() {
  const c = await api("GET", "/api/connections");
  $("#connection-state").replaceChildren(el("p", {}, "State: ", statusCell(c.state === "active" ? "success" : "error", c.state), c.paused_reason ? ` — ${c.paused_reason}` : ""));
  const yes = (b) => (b ? "configured" : "missing");
  describe($("#exact-connection"), [["Exact Online", ""], ["URL", c.exact.base_url], ["Division", c.exact.division], ["Client id", c.exact.client_id], ["Client secret", yes(c.exact.client_secret_configured)], ["Webhook secret", yes(c.exact.webhook_secret_configured)]]);
  describe($("#vp-connection"), [["Vantagepoint", ""], ["URL", c.vantagepoint.base_url], ["Database", c.vantagepoint.database], ["Culture", c.vantagepoint.culture], ["Client id", c.vantagepoint.client_id], ["User", c.vantagepoint.username], ["Client secret", yes(c.vantagepoint.client_secret_configured)], ["Password", yes(c.vantagepoint.password_configured)]]);
  await loadExactHealth();
}

// Token times, calls left today, division and webhooks; the API never returns a token.
async function loadExactHealth() {
  const h = await api("GET", "/api/connections/exact/health");
  const when = (t) => (t ? new Date(t).toLocaleString() : "—");
  const tokens = { connected: "connected", "not-connected": "not connected: an admin clicks Connect Exact Online", "other-site": "tokens of another Exact site: connect again" }[h.token.state] || h.token.state;
  const hooks = h.webhooks.state === "subscribed" ? `subscribed (${h.webhooks.topics.join(", ")})` : `${h.webhooks.state}${h.webhooks.error ? ` — ${h.webhooks.error}` : ""}`;
  describe($("#exact-health"), [
    ["Tokens", tokens],
    ["Access token expires", when(h.token.access_expires_at)],
    ["Last refresh", when(h.token.last_refresh)],
    ["Calls today", `${h.calls.used_today} used, ${h.calls.remaining_today} of ${h.calls.daily_limit} left`],
    ["Division", h.division_name ? `${h.division} — ${h.division_name}` : String(h.division)],
    ["Consent", h.consented_at ? `${when(h.consented_at)} by ${h.consented_by}` : "—"],
    ["Webhooks", hooks],
  ]);
}

// Admins only: the API answers Exact's authorize URL with a signed, single-use state; Exact sends the
// browser back to /oauth/exact/callback, which asks for the division.
async function connectExact() {
  const start = await api("POST", "/api/connections/exact/consent");
  window.location.assign(start.authorize_url);
}

async function testConnection(system) {
  const result = await api("POST", `/api/connections/${system}/test`);
  flash(result.message, !result.ok);
}

// ---------------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------------

function wire() {
  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("#api-key").value.trim()).catch(() => signOut("The API key was refused."));
  });
  $("#forget-key").addEventListener("click", () => signOut(""));
  $$("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  $$("#category button").forEach((b) => b.addEventListener("click", () => {
    state.category = b.dataset.category;
    $$("#category button").forEach((x) => x.classList.toggle("active", x === b));
    fillTypes();
    guard(loadObjects)(true);
  }));
  for (const sel of ["#status-filter", "#type-filter"]) $(sel).addEventListener("change", () => guard(loadObjects)(true));
  for (const sel of ["#key-prefix", "#version-filter"]) $(sel).addEventListener("keydown", (e) => { if (e.key === "Enter") guard(loadObjects)(true); });
  $("#refresh").addEventListener("click", () => guard(loadObjects)(true));
  $("#more-objects").addEventListener("click", () => guard(loadObjects)(false));
  $("#select-all").addEventListener("change", (e) => {
    for (const o of state.objects) {
      if (e.target.checked) state.selected.set(selectionId(o), { type: o.type, key: o.key });
      else state.selected.delete(selectionId(o));
    }
    renderObjects();
  });
  $("#clear-selection").addEventListener("click", () => { state.selected.clear(); renderObjects(); });
  $("#synchronize").addEventListener("click", guard(() => act("/api/objects/synchronize", "Synchronize")));
  $("#force-sync").addEventListener("click", guard(() => act("/api/objects/force-synchronize", "Force synchronize")));
  $("#close-detail").addEventListener("click", () => { $("#detail").hidden = true; state.detail = null; });
  $("#link-new-account").addEventListener("click", guard(() => linkAction("new-account")));
  $("#link-unlink").addEventListener("click", guard(() => linkAction("unlink")));
  $("#link-form").addEventListener("submit", guard(async (event) => {
    event.preventDefault();
    const account = $("#link-account").value.trim();
    if (!account) return;
    await linkAction($("#link-form").dataset.action, account);
  }));
  $("#refresh-exports").addEventListener("click", () => guard(loadExports)(true));
  $("#more-exports").addEventListener("click", () => guard(loadExports)(false));
  $("#run-export").addEventListener("click", guard(async () => {
    const id = $("#definition-select").value;
    if (id) await runDefinition(id);
  }));
  $("#new-definition").addEventListener("click", guard(() => openDefinition(null)));
  $("#definition-form").addEventListener("submit", saveDefinition);
  $("#cancel-definition").addEventListener("click", () => { $("#definition-form").hidden = true; state.editing = null; });
  $("#def-source").addEventListener("change", () => sourceChanged(true));
  $("#def-every").addEventListener("change", everyChanged);
  $("#def-name").addEventListener("input", () => {
    if ($("#def-id").dataset.auto) $("#def-id").value = slug($("#def-name").value);
  });
  $("#def-id").addEventListener("input", () => { $("#def-id").dataset.auto = ""; });
  $("#add-column").addEventListener("click", () => {
    $("#def-columns").dataset.suggested = "";
    const row = columnRow();
    $("#def-columns").append(row);
    renumber($("#def-columns"));
    $(".col-field", row).focus();
  });
  $("#add-condition").addEventListener("click", () => {
    const row = conditionRow();
    $("#def-conditions").append(row);
    renumber($("#def-conditions"));
    $(".cond-field", row).focus();
  });
  $("#refresh-manager").addEventListener("click", guard(loadManager));
  $("#integration-form").addEventListener("submit", guard(async (event) => {
    event.preventDefault();
    const form = event.target;
    const split = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
    await api("POST", "/api/integrations", {
      id: form.id.value.trim(), name: form.name.value.trim(), description: form.description.value.trim(),
      import_tasks: split(form.imports.value), export_tasks: split(form.exports.value),
    });
    form.reset();
    flash("Integration saved.");
    await loadManager();
  }));
  $("#lookup-table").addEventListener("change", () => { state.lookupFix = null; editLookup(null); guard(loadLookups)(true); });
  $("#refresh-lookups").addEventListener("click", () => guard(loadLookups)(true));
  $("#more-lookups").addEventListener("click", () => guard(loadLookups)(false));
  $("#lookup-form").addEventListener("submit", guard(saveLookup));
  $("#lookup-new").addEventListener("click", () => editLookup(null));
  $("#export-lookup").addEventListener("click", guard(exportLookup));
  $("#import-lookup").addEventListener("change", guard(async (event) => {
    const file = event.target.files[0];
    if (file) await importLookup(file);
    event.target.value = "";
  }));
  $("#health-hours").addEventListener("change", guard(loadHealth));
  $("#refresh-health").addEventListener("click", guard(loadHealth));
  $("#connect-exact").addEventListener("click", guard(connectExact));
  $("#test-exact").addEventListener("click", guard(() => testConnection("exact")));
  $("#test-vantagepoint").addEventListener("click", guard(() => testConnection("vantagepoint")));
  $("#pause").addEventListener("click", guard(async () => { await api("POST", "/api/connections/pause", { reason: "Paused from the operator page" }); await loadConnections(); }));
  $("#resume").addEventListener("click", guard(async () => { await api("POST", "/api/connections/resume"); await loadConnections(); }));
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  fillTypes();
  const key = readKey();
  if (key) signIn(key).catch(() => signOut("The stored API key was refused."));
  else signOut("");
});
