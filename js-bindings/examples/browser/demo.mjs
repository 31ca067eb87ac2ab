// The browser demo: loads the web build of jitgate, then decides the request in the
// form at the current time. `demo.json` next to this page (when served) fills the
// form with a configuration and a token.
import { Gate, JitgateError, init, version } from '../../lib/web.mjs';

const $ = (id) => document.getElementById(id);
let gate = null;
let gateConfig = null;

function minutesLeft(expiresMs) {
  const m = Math.round((expiresMs - Date.now()) / 60000);
  return m > 0 ? `in ${m} minute${m === 1 ? '' : 's'}` : 'ended';
}

function show(d, left) {
  const result = $('result');
  result.dataset.state = 'done';
  result.dataset.allow = String(d.allow);
  result.dataset.status = String(d.status);
  result.dataset.reason = d.reason;
  $('badge').className = `badge ${d.allow ? 'allow' : 'deny'}`;
  $('badge').textContent = d.allow ? 'ALLOW' : 'DENY';
  $('status').textContent = String(d.status);
  $('reason').textContent = d.policyReason ? `${d.reason} — ${d.policyReason}` : d.reason;
  $('subject').textContent = d.approval?.subject ?? '—';
  $('role').textContent = d.approval?.role ?? '—';
  $('remaining').textContent = left ?? '—';
  $('decision-id').textContent = d.decisionId;
  $('audit').textContent = JSON.stringify(d.audit, null, 2);
  window.jitgateDemoResult = d;
}

function fail(e) {
  const result = $('result');
  result.dataset.state = 'error';
  result.dataset.error = e instanceof JitgateError ? e.code : 'error';
  $('badge').className = 'badge deny';
  $('badge').textContent = 'ERROR';
  $('reason').textContent = e instanceof JitgateError ? `${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}` : String(e);
}

function decide() {
  try {
    const text = $('config').value;
    if (gate === null || gateConfig !== text) {
      gate?.free();
      gate = null;
      gate = new Gate(text);
      gateConfig = text;
    }
    const token = $('token').value.trim();
    const headers = new Headers({ host: location.host });
    if (token) headers.set(gate.tokenHeader, token);
    const d = gate.decide({ method: $('method').value, path: $('path').value, headers });
    // "Your access ends in N minutes": verify() reads the approval without the policy.
    const v = token ? gate.verify(token) : null;
    show(d, v?.valid ? minutesLeft(v.approval.expires) : v ? v.code : null);
  } catch (e) {
    fail(e);
  }
}

await init();
$('version').textContent = `v${version()} · WebAssembly`;
$('decide').addEventListener('click', decide);
const demo = await fetch('./demo.json').then((r) => (r.ok ? r.json() : null)).catch(() => null);
if (demo) {
  $('config').value = JSON.stringify(demo.config, null, 2);
  $('token').value = demo.token ?? '';
  if (demo.path) $('path').value = demo.path;
  decide();
} else {
  $('hint').textContent = 'Paste a configuration and a token, then Decide.';
}
document.body.dataset.ready = 'true';
