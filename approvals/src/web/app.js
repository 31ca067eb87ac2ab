"use strict";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const me = document.getElementById("me").textContent;
const msg = (text, ok) => { const m = document.getElementById("msg"); m.textContent = text; m.className = ok ? "ok" : ""; };
const text = (s) => document.createTextNode(s == null ? "" : String(s));
function cell(row, ...nodes) { const td = row.insertCell(); nodes.forEach((n) => td.append(typeof n === "string" ? text(n) : n)); return td; }
async function api(method, path, body) {
  const opts = { method, headers: { "x-csrf-token": csrf }, credentials: "same-origin" };
  if (body !== undefined) { opts.headers["content-type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((j.code || r.status) + ": " + (j.message || "") + (j.field ? " (" + j.field + ")" : ""));
  return j;
}
function button(label, onclick) { const b = document.createElement("button"); b.textContent = label; b.onclick = onclick; return b; }
async function refresh() {
  const pending = (await api("GET", "/v1/requests?state=pending")).requests;
  const tb = document.getElementById("pending"); tb.replaceChildren();
  for (const r of pending) {
    const row = tb.insertRow();
    cell(row, r.requester); cell(row, r.resource + " / " + r.role); cell(row, r.reason + (r.ticket ? " [" + r.ticket + "]" : ""));
    cell(row, r.approvals.length + " of " + r.required_approvals);
    if (r.requester !== me) {
      const c = document.createElement("input"); c.placeholder = "comment";
      const decide = (what) => async () => {
        try { await api("POST", "/v1/requests/" + encodeURIComponent(r.id) + "/" + what, c.value ? { comment: c.value } : {}); msg(what + "d", true); }
        catch (e) { msg(e.message); }
        refresh();
      };
      cell(row, c, button("Approve", decide("approve")), button("Deny", decide("deny")));
    } else { cell(row, "(yours)"); }
  }
  const active = (await api("GET", "/v1/requests?state=approved")).requests;
  const ta = document.getElementById("active"); ta.replaceChildren();
  for (const r of active) {
    const row = ta.insertRow();
    cell(row, r.requester); cell(row, r.resource + " / " + r.role); cell(row, new Date(r.exp * 1000).toISOString());
    cell(row, r.approvals.map((a) => a.approver).join(", "));
    const actions = [button("Revoke", async () => {
      const reason = prompt("Why revoke?"); if (!reason) return;
      try { await api("POST", "/v1/approvals/" + encodeURIComponent(r.jti) + "/revoke", { reason }); msg("revoked", true); }
      catch (e) { msg(e.message); }
      refresh();
    })];
    if (r.requester === me) {
      actions.push(button("Show token", async () => {
        try { const t = await api("GET", "/v1/requests/" + encodeURIComponent(r.id) + "/token"); const c = document.createElement("code"); c.textContent = t.token; row.cells[4].append(c); }
        catch (e) { msg(e.message); }
      }));
    }
    cell(row, ...actions);
  }
}
document.getElementById("new").onsubmit = async (ev) => {
  ev.preventDefault();
  const v = (id) => document.getElementById(id).value.trim();
  const body = { resource: v("resource"), role: v("role"), duration_s: Math.round(Number(v("duration")) * 60), reason: v("reason") };
  if (v("ticket")) body.ticket = v("ticket");
  try { const r = await api("POST", "/v1/requests", body); msg("requested: " + r.id, true); } catch (e) { msg(e.message); }
  refresh();
};
refresh().catch((e) => msg(e.message));
