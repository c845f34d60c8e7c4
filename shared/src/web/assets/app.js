// kubectl ai exec --ui: the page. No framework, no build step; every text from the server or the
// model is inserted as text, or through the markdown renderer below, which escapes first.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
};

let busy = false;

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, { credentials: "same-origin", ...init });
  const value = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(value.error || response.statusText);
  return value;
}

// The one-time token in the URL's fragment becomes an HttpOnly cookie, and leaves the address bar.
async function login() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!token) return;
  history.replaceState(null, "", location.pathname);
  const response = await fetch("/api/login", { method: "POST", headers: { authorization: "Bearer " + token }, credentials: "same-origin" });
  if (!response.ok) notice("This link was used already: open a new one (restart kubectl ai exec --ui), or go on in the tab that used it.");
}

function showState(state) {
  const m = state.model || {};
  $("place").textContent = `context ${state.context || "(current)"} · namespace ${state.namespace} · ${state.server} · ${m.provider} ${m.model}` +
    (state.readOnly ? " · read-only" : "") + (state.yes ? " · --yes: changes run without asking" : "");
  $("place").dataset.session = state.session || "";
  const select = $("model");
  if (select.options.length) {
    select.options[0].textContent = `${m.provider} ${m.model} (in use)`;
    if (state.profile) select.value = state.profile;
  }
}

async function refresh() {
  const [state, profiles] = await Promise.all([api("/api/state"), api("/api/profiles")]);
  showState(state);
  const select = $("model");
  select.replaceChildren(el("option", { value: "", text: `${state.model.provider} ${state.model.model} (in use)` }));
  for (const p of profiles) {
    const window = p.contextWindow ? `, ${p.contextWindow} tokens` : "";
    const tools = p.toolCalling ? "tools" : "no tools: JSON protocol";
    select.append(el("option", { value: p.name, text: `${p.name}: ${p.provider} ${p.model} (${tools}${window})` }));
  }
  if (state.profile) select.value = state.profile;
}

// A small, safe markdown: escaped first; code blocks, tables, headings, lists, emphasis.
function escape(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function inline(text) {
  return escape(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>");
}
function markdown(source) {
  const lines = source.replace(/\r/g, "").split("\n");
  const out = [];
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const code = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) code.push(lines[i]);
      i++;
      out.push(`<pre><code>${escape(code.join("\n"))}</code></pre>`);
    } else if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1])) {
      const cells = (l) => l.trim().replace(/^\||\|$/g, "").split("|").map((c) => inline(c.trim()));
      const head = cells(line).map((c) => `<th>${c}</th>`).join("");
      const rows = [];
      for (i += 2; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) rows.push(`<tr>${cells(lines[i]).map((c) => `<td>${c}</td>`).join("")}</tr>`);
      out.push(`<table><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`);
    } else if (/^#{1,4}\s/.test(line)) {
      const level = Math.min(line.match(/^#+/)[0].length + 2, 6);
      out.push(`<h${level}>${inline(line.replace(/^#+\s*/, ""))}</h${level}>`);
      i++;
    } else if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const items = [];
      for (; i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i]); i++) items.push(`<li>${inline(lines[i].replace(/^\s*([-*]|\d+\.)\s+/, ""))}</li>`);
      out.push(ordered ? `<ol>${items.join("")}</ol>` : `<ul>${items.join("")}</ul>`);
    } else if (line.trim() === "") {
      i++;
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() !== "" && !/^(```|#{1,4}\s|\s*([-*]|\d+\.)\s|\s*\|)/.test(lines[i]); i++) para.push(inline(lines[i]));
      out.push(`<p>${para.join("<br>")}</p>`);
    }
  }
  return out.join("");
}

function toolView(event) {
  const step = event.step;
  const status = step.refused ? `refused: ${step.refused}` : step.exit_code != null ? `exit ${step.exit_code}` : "done";
  const summary = el("summary", { text: `${step.tool} ${step.input} — ${status}, ${(event.atMs / 1000).toFixed(1)} s` });
  if (event.capped) summary.append(el("span", { class: "badge", text: "capped" }));
  if (event.redacted) summary.append(el("span", { class: "badge", text: "redacted" }));
  return el("details", { class: "tool" }, summary, el("pre", { text: event.output }));
}

function approvalView(event) {
  const card = el("div", { class: "approval", role: "group", "aria-label": "A change waits for your approval" });
  const dl = el("dl");
  for (const [k, v] of [["context", event.context], ["server", event.server], ["namespace", event.namespace], ["kind", event.class]]) dl.append(el("dt", { text: k }), el("dd", { text: v }));
  const yes = el("button", { type: "button", class: "primary", text: "Approve" });
  const no = el("button", { type: "button", text: "Reject" });
  const decide = async (approve) => {
    yes.disabled = no.disabled = true;
    card.classList.add(approve ? "approved" : "rejected");
    try { await api("/api/approve", { id: event.id, approve }); } catch (e) { notice(e.message); }
  };
  yes.addEventListener("click", () => decide(true));
  no.addEventListener("click", () => decide(false));
  card.append(el("strong", { text: "This changes the cluster:" }), el("code", { text: event.command }), dl, yes, " ", no);
  setTimeout(() => no.focus(), 0);
  return card;
}

function render(item, event) {
  // The model's text as it streams in: a draft, replaced by what it turns out to be.
  const draft = item.querySelector(".draft");
  if (event.type === "text") {
    (draft || item.appendChild(el("div", { class: "draft answer", "aria-busy": "true" }))).append(event.text);
    item.scrollIntoView({ block: "end" });
    return;
  }
  if (draft && event.type !== "state" && event.type !== "note" && event.type !== "warning") draft.remove();
  switch (event.type) {
    case "state": showState(event.state); break;
    case "thought": item.append(el("p", { class: "thought", text: event.text })); break;
    case "note": item.append(el("p", { class: "note", text: event.text })); break;
    case "warning": item.append(el("p", { class: "note warning", text: "warning: " + event.text })); break;
    case "running": item.append(el("p", { class: "note", text: "running (approved): " + event.command })); break;
    case "tool": item.append(toolView(event)); break;
    case "approval": item.append(approvalView(event)); break;
    case "answer": {
      const answer = el("div", { class: "answer" });
      answer.innerHTML = markdown(event.answer.answer || "");
      item.append(answer);
      for (const n of event.answer.notRun || []) item.append(el("p", { class: "note warning", text: `not done: ${n.command} (${n.why})` }));
      if (event.answer.stopped) item.append(el("p", { class: "error", text: "stopped without an answer: " + event.answer.stopped }));
      break;
    }
    case "error": item.append(el("p", { class: "error", text: "error: " + event.message })); break;
  }
  item.scrollIntoView({ block: "end" });
}

async function ask(question) {
  const item = el("li", {}, el("div", { class: "question", text: question }));
  $("conversation").append(item);
  const response = await fetch("/api/ask", {
    method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" },
    body: JSON.stringify({ question, profile: $("model").value || null }),
  });
  if (!response.ok) {
    const value = await response.json().catch(() => ({}));
    render(item, { type: "error", message: value.error || response.statusText });
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) render(item, JSON.parse(data));
    }
  }
}

async function showSessions() {
  const list = $("sessions-list");
  if (!list.hidden) { list.hidden = true; return; }
  const { sessions } = await api("/api/sessions");
  list.replaceChildren(el("h2", { text: "Saved sessions" }));
  if (!sessions.length) list.append(el("p", { text: "No saved session yet." }));
  for (const s of sessions) {
    const button = el("button", { type: "button", text: `${s.updated.slice(0, 16)} · ${s.context}/${s.namespace} · ${s.model} · ${s.questions[0] || ""}` });
    button.addEventListener("click", () => resume(s.id));
    list.append(button);
  }
  list.hidden = false;
}

async function resume(id, confirm = false) {
  try {
    const value = await api("/api/resume", { id, confirm });
    $("sessions-list").hidden = true;
    $("conversation").replaceChildren();
    for (const q of value.questions) $("conversation").append(el("li", {}, el("div", { class: "question", text: q })));
    $("conversation").append(el("li", {}, el("p", { class: "note", text: `resumed session ${id}: the model has its earlier turns` })));
    await refresh();
  } catch (e) {
    if (!confirm && /confirm/.test(e.message) && window.confirm(e.message + ". Continue it here?")) return resume(id, true);
    notice(e.message);
  }
}

// Logs in with a token in the fragment, if any, and shows the session; again when a link with a
// token is opened in a tab that shows the page already (only the fragment changes then).
async function connect() {
  await login();
  try { await refresh(); notice(""); } catch (e) { notice(e.message); }
}

// The reports: analyze and audit run now on the session's cluster; sortable by severity, filtered
// by namespace; "Ask" puts a question about the row in the box.
const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const view = { which: "analyze", rows: [], descending: true };

async function loadReport(which) {
  view.which = which;
  for (const w of ["analyze", "audit"]) $("tab-" + w).setAttribute("aria-selected", String(w === which));
  $("report-status").textContent = `running ${which} on the cluster…`;
  $("report-table").hidden = true;
  try {
    const value = await api(`/api/report/${which}`);
    view.rows = value.rows;
    const namespaces = [...new Set(value.rows.map((r) => r.namespace || ""))].sort();
    const select = $("report-namespace");
    select.replaceChildren(el("option", { value: "*", text: "all" }), ...namespaces.map((n) => el("option", { value: n, text: n || "(cluster)" })));
    const more = value.more ? `, and ${value.more} more not shown` : "";
    const partial = value.partial ? ` — partial: ${value.warnings.join("; ")}` : "";
    $("report-status").textContent = `${value.rows.length} finding(s)${more}${partial}`;
    drawReport();
  } catch (e) {
    $("report-status").textContent = "error: " + e.message;
  }
}

function drawReport() {
  const ns = $("report-namespace").value;
  const rank = (r) => SEVERITIES.indexOf(r.severity);
  const rows = view.rows.filter((r) => ns === "*" || (r.namespace || "") === ns)
    .sort((a, b) => (view.descending ? rank(b) - rank(a) : rank(a) - rank(b)));
  $("report-table").querySelector("th").setAttribute("aria-sort", view.descending ? "descending" : "ascending");
  const body = $("report-table").querySelector("tbody");
  body.replaceChildren(...rows.map((r) => {
    const object = `${r.kind} ${r.namespace ? r.namespace + "/" : ""}${r.name}`;
    const problem = el("td", {}, el("div", { text: r.check ? `${r.check} ${r.title}: ${r.message}` : `${r.reason}: ${r.message}` }), r.hint ? el("div", { class: "hint", text: r.hint }) : null);
    const button = el("button", { type: "button", text: "Ask" });
    button.addEventListener("click", () => {
      $("question").value = r.check
        ? `How do I fix ${r.check} (${r.title}) on ${object}?`
        : `Why does ${object} have ${r.reason}, and how do I fix it?`;
      $("question").focus();
    });
    return el("tr", {}, el("td", { class: `sev sev-${r.severity}`, text: r.severity }), el("td", { text: object }), problem, el("td", {}, button));
  }));
  $("report-table").hidden = false;
}

async function main() {
  window.addEventListener("hashchange", connect);
  await connect();
  $("ask").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || busy) return;
    busy = true;
    $("send").disabled = true;
    $("question").value = "";
    notice("");
    try { await ask(question); } catch (e) { notice(e.message); }
    busy = false;
    $("send").disabled = false;
    $("question").focus();
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("ask").requestSubmit(); }
  });
  $("sessions").addEventListener("click", () => showSessions().catch((e) => notice(e.message)));
  $("reports").addEventListener("click", () => {
    const shown = $("reports-view").hidden;
    $("reports-view").hidden = !shown;
    $("reports").setAttribute("aria-expanded", String(shown));
    if (shown) loadReport(view.which);
  });
  $("tab-analyze").addEventListener("click", () => loadReport("analyze"));
  $("tab-audit").addEventListener("click", () => loadReport("audit"));
  $("report-namespace").addEventListener("change", drawReport);
  $("sort-severity").addEventListener("click", () => { view.descending = !view.descending; drawReport(); });
  $("reset").addEventListener("click", async () => {
    try { showState(await api("/api/reset", {})); $("conversation").replaceChildren(); } catch (e) { notice(e.message); }
  });
  $("question").focus();
}

main();
