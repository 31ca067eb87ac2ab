// Live trust in Node: documents installed into a running Gate and consulted by the next
// decision — revocation lists, Token Status Lists at every width, key rotation,
// staleness both ways — every refusal as a JitgateError `feed_<code>`, and the
// examples/feed-poller.mjs loop against a real HTTP feed with ETags and 304s.
// Documents are signed here with node:crypto, relative to the tests' clock.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';

import { Gate, JitgateError } from 'jitgate';
import { FeedPoller } from '../examples/feed-poller.mjs';
import { liveGate } from '../examples/node-feed.mjs';
import {
  ISSUER,
  LIST_URI,
  NOW_MS,
  NOW_S,
  REVOCATIONS_TYPE,
  claims,
  feedConfig,
  keySet,
  mint,
  newKey,
  request,
  revocationList,
  signDocument,
  statusList,
} from './support/tokens.mjs';

const ed = newKey('ed25519', 'ed1');
const next = newKey('ed25519', 'ed2');
const ec = newKey('p256', 'ec1');
const at = (s = 0) => ({ now: NOW_MS + s * 1000 });
const TOKEN_ONLY = 'package access.jit\nallow if input.token.valid\n';

function throwsFeed(fn, code, kind) {
  let caught;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof JitgateError, `expected a JitgateError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (kind !== undefined) {
    assert.equal(caught.kind, kind);
    assert.equal(typeof caught.detail, 'string');
    assert.ok(caught.message.includes(caught.detail), caught.message);
    assert.ok(caught.message.includes(`(${code.replace(/^feed_/, '')})`), caught.message);
  }
  return caught;
}

// Every gate a test makes is freed after it.
const made = [];
const make = (config) => {
  const gate = new Gate(config);
  made.push(gate);
  return gate;
};
afterEach(() => made.splice(0).forEach((g) => g.free()));

const decide = (gate, token, s = 0) => gate.decide(request(token), at(s));
const withStatus = (idx, uri = LIST_URI, extra = {}) =>
  claims({ status: { status_list: { idx, uri } }, ...extra });

describe('revocation lists', () => {
  it('a gate with a feed denies until a list arrives, then decides with it', () => {
    const gate = make(feedConfig([ed]));
    const token = mint(ed, claims());
    const before = decide(gate, token);
    assert.equal(before.reason, 'revocations_stale');
    assert.equal(before.status, 401);
    assert.equal(before.response.headers['www-authenticate'], 'JIT-Approval error="revocations_stale"');

    const state = gate.installRevocations(ISSUER, revocationList(ed, 1, []), at());
    assert.deepEqual(state, {
      kind: 'revocations',
      issuer: ISSUER,
      seq: 1,
      issuedAt: NOW_MS,
      expires: NOW_MS + 3_600_000,
      entries: 0,
      changed: true,
    });
    const d = decide(gate, token, 1);
    assert.equal(d.reason, 'allowed');
    assert.equal(d.trustStale, false);

    const revoked = gate.installRevocations(ISSUER, revocationList(ed, 2, ['appr-1', 'appr-9'], NOW_S + 1), at(2));
    assert.equal(revoked.entries, 2);
    assert.equal(revoked.changed, true);
    const denied = decide(gate, token, 3);
    assert.equal(denied.reason, 'token_revoked');
    assert.equal(denied.status, 401);
    assert.match(denied.token.detail, /seq 2/);
    // The same list again: installed, nothing changed.
    assert.equal(gate.installRevocations(ISSUER, revocationList(ed, 2, ['appr-1', 'appr-9'], NOW_S + 1), at(3)).changed, false);
  });

  it('an older list is a rollback and the installed one stays', () => {
    const gate = make(feedConfig([ed]));
    gate.installRevocations(ISSUER, revocationList(ed, 5, ['appr-1']), at());
    throwsFeed(() => gate.installRevocations(ISSUER, revocationList(ed, 4, []), at(1)), 'feed_rollback', 'revocations');
    throwsFeed(() => gate.installRevocations(ISSUER, revocationList(ed, 5, [], NOW_S - 10), at(1)), 'feed_rollback');
    assert.equal(decide(gate, mint(ed, claims()), 1).reason, 'token_revoked');
    assert.equal(gate.trustStatus(at(1))[0].revocationsSeq, 5);
  });

  it('every refusal has its code', () => {
    const gate = make(feedConfig([ed, ec]));
    const stranger = newKey('ed25519', 'ed1'); // the trusted kid, another key
    const payload = { iss: ISSUER, iat: NOW_S, exp: NOW_S + 3600, seq: 1, revoked: [] };
    const cases = [
      [signDocument(stranger, REVOCATIONS_TYPE, payload), 'feed_signature'],
      [signDocument(newKey('ed25519', 'nope'), REVOCATIONS_TYPE, payload), 'feed_key_unknown'],
      [signDocument(ed, 'jit-approval+jwt', payload), 'feed_type'],
      [signDocument(ed, REVOCATIONS_TYPE, payload, { typ: null }), 'feed_type'],
      [signDocument(ed, REVOCATIONS_TYPE, payload, { alg: 'ES256' }), 'feed_algorithm'],
      [signDocument(ed, REVOCATIONS_TYPE, payload, { jku: 'https://evil' }), 'feed_malformed'],
      [signDocument(ed, REVOCATIONS_TYPE, { ...payload, iss: 'https://other.example.com' }), 'feed_issuer'],
      [revocationList(ed, 1, [], NOW_S - 7200), 'feed_expired'],
      [revocationList(ed, 1, [], NOW_S + 3600), 'feed_not_yet_valid'],
      [signDocument(ed, REVOCATIONS_TYPE, { ...payload, seq: '1' }), 'feed_malformed'],
      [signDocument(ed, REVOCATIONS_TYPE, { ...payload, revoked: [''] }), 'feed_malformed'],
      ['not a document', 'feed_malformed'],
    ];
    for (const [text, code] of cases) throwsFeed(() => gate.installRevocations(ISSUER, text, at()), code, 'revocations');
    throwsFeed(() => gate.installRevocations('https://nobody.example.com', revocationList(ed, 1, []), at()), 'feed_not_configured');
    throwsFeed(() => gate.confirmCurrent(ISSUER, undefined, at()), 'feed_not_installed', 'revocations');
    // Nothing was installed by any of them.
    assert.equal(gate.trustStatus(at())[0].revocationsSeq, null);
    // An issuer without a feed takes no documents.
    const plain = make({ ...feedConfig([ed]), issuers: [{ ...feedConfig([ed]).issuers[0], feed: undefined }] });
    throwsFeed(() => plain.installRevocations(ISSUER, revocationList(ed, 1, []), at()), 'feed_not_configured');
  });

  it('arguments are checked like the rest of the API', () => {
    const gate = make(feedConfig([ed]));
    const bad = (fn, field) => {
      const e = throwsFeed(fn, 'argument_invalid');
      assert.equal(e.field, field);
      assert.ok(e.message.includes(field));
    };
    bad(() => gate.installRevocations(ISSUER, new Uint8Array(4), at()), 'text');
    bad(() => gate.installRevocations(42, 'x', at()), 'issuer');
    bad(() => gate.installStatusList(ISSUER, null, 'x', at()), 'uri');
    bad(() => gate.installKeys(ISSUER, undefined, at()), 'text');
    bad(() => gate.confirmCurrent(ISSUER, 7, at()), 'uri');
    bad(() => gate.installRevocations(ISSUER, 'x', { now: 'tomorrow' }), 'now');
    bad(() => gate.installRevocations(ISSUER, 'x', { now: new Date(NaN) }), 'now');
    bad(() => gate.trustStatus({ now: Infinity }), 'now');
    gate.free();
    assert.equal(throwsFeed(() => gate.installRevocations(ISSUER, 'x'), 'gate_freed').field, null);
  });
});

describe('staleness', () => {
  it('knowledge goes stale max_stale_s after the last install or 304, and a 304 renews it', () => {
    const gate = make(feedConfig([ed]));
    const token = mint(ed, claims());
    gate.installRevocations(ISSUER, revocationList(ed, 1, []), at());
    assert.equal(decide(gate, token, 60).reason, 'allowed');
    const stale = decide(gate, token, 61);
    assert.equal(stale.reason, 'revocations_stale');
    assert.deepEqual(stale.counters, ['jitgate.denied', 'jitgate.denied.revocations_stale']);
    assert.deepEqual(gate.trustStatus(at(61)), [
      { issuer: ISSUER, revocationsSeq: 1, revocationsAgeS: 61, revoked: 0, statusLists: 0, keys: 1, stale: true },
    ]);
    const confirmed = gate.confirmCurrent(ISSUER, undefined, at(61));
    assert.equal(confirmed.changed, false);
    assert.equal(confirmed.seq, 1);
    assert.equal(decide(gate, token, 100).reason, 'allowed');
    assert.equal(gate.trustStatus(at(100))[0].stale, false);
  });

  it('on_stale: allow keeps serving the last list, and says so', () => {
    const gate = make(feedConfig([ed], { on_stale: 'allow', max_stale_s: 10 }));
    gate.installRevocations(ISSUER, revocationList(ed, 1, ['appr-gone']), at());
    const d = decide(gate, mint(ed, claims()), 11);
    assert.equal(d.allow, true);
    assert.equal(d.trustStale, true);
    assert.deepEqual(d.counters, ['jitgate.allowed', 'jitgate.feed.served_stale']);
    // A revoked approval stays revoked, stale or not.
    assert.equal(decide(gate, mint(ed, claims({ jti: 'appr-gone' })), 11).reason, 'token_revoked');
  });
});

describe('Token Status Lists', () => {
  for (const bits of [1, 2, 4, 8]) {
    it(`entries of ${bits} bit${bits > 1 ? 's' : ''}`, () => {
      const gate = make(feedConfig([ed], {}, TOKEN_ONLY));
      gate.installRevocations(ISSUER, revocationList(ed, 1, []), at());
      const top = 2 ** bits - 1;
      const statuses = [0, 1, 0, top, 0, 2 % (top + 1), 0, 0];
      const state = gate.installStatusList(ISSUER, LIST_URI, statusList(ed, statuses, { bits }), at());
      assert.equal(state.kind, 'status_list');
      assert.equal(state.seq, null);
      assert.equal(state.entries, (Math.ceil(statuses.length / (8 / bits)) * 8) / bits);
      statuses.forEach((s, idx) => {
        const d = decide(gate, mint(ed, withStatus(idx)), 1);
        assert.equal(d.reason, s === 0 ? 'allowed' : 'token_revoked', `entry ${idx} = ${s}`);
      });
      assert.equal(decide(gate, mint(ed, withStatus(state.entries)), 1).reason, 'token_status_unknown');
    });
  }

  it('a list the gate cannot know, or one not arrived yet, and the refusals', () => {
    const gate = make(feedConfig([ed], {}, TOKEN_ONLY));
    gate.installRevocations(ISSUER, revocationList(ed, 1, []), at());
    // Named by the feed, not installed yet: stale knowledge, not unknown.
    assert.equal(decide(gate, mint(ed, withStatus(0))).reason, 'revocations_stale');
    // Named by no feed: an unknown status.
    assert.equal(decide(gate, mint(ed, withStatus(0, 'https://elsewhere/0'))).reason, 'token_status_unknown');
    throwsFeed(
      () => gate.installStatusList(ISSUER, 'https://elsewhere/0', statusList(ed, [0], { uri: 'https://elsewhere/0' }), at()),
      'feed_not_configured',
      'status_list',
    );
    throwsFeed(
      () => gate.installStatusList(ISSUER, LIST_URI, statusList(ed, [0], { uri: `${ISSUER}/v1/status-lists/1` }), at()),
      'feed_subject',
      'status_list',
    );
    throwsFeed(() => gate.installStatusList(ISSUER, LIST_URI, statusList(ed, [0], { bits: 3 }), at()), 'feed_malformed');
    throwsFeed(() => gate.confirmCurrent(ISSUER, LIST_URI, at()), 'feed_not_installed', 'status_list');
    gate.installStatusList(ISSUER, LIST_URI, statusList(ed, [0, 1]), at());
    throwsFeed(() => gate.installStatusList(ISSUER, LIST_URI, statusList(ed, [0], { atS: NOW_S - 1 }), at()), 'feed_rollback');
    assert.equal(decide(gate, mint(ed, withStatus(1))).reason, 'token_revoked');
    assert.equal(gate.confirmCurrent(ISSUER, LIST_URI, at(30)).kind, 'status_list');
    assert.equal(gate.trustStatus(at(30))[0].statusLists, 1);
  });
});

describe('key rotation', () => {
  it('a key set signed by a trusted key brings the next key; then the old one retires', () => {
    const gate = make(feedConfig([ed], {}, TOKEN_ONLY));
    gate.installRevocations(ISSUER, revocationList(ed, 1, []), at());
    const oldToken = mint(ed, claims({ jti: 'appr-old' }));
    const newToken = mint(next, claims({ jti: 'appr-new' }));
    assert.equal(decide(gate, newToken).reason, 'token_key_unknown');
    // Announced by the old key.
    const both = gate.installKeys(ISSUER, keySet(ed, [ed, next]), at(1));
    assert.deepEqual(both, {
      kind: 'keys', issuer: ISSUER, seq: null, issuedAt: NOW_MS, expires: NOW_MS + 3_600_000, entries: 2, changed: true,
    });
    assert.equal(decide(gate, newToken, 1).reason, 'allowed');
    assert.equal(decide(gate, oldToken, 1).reason, 'allowed');
    // The old key retires, announced by the new one.
    gate.installKeys(ISSUER, keySet(next, [next], NOW_S + 10), at(10));
    assert.equal(decide(gate, oldToken, 10).reason, 'token_key_unknown');
    assert.equal(decide(gate, newToken, 10).reason, 'allowed');
    assert.equal(gate.trustStatus(at(10))[0].keys, 1);
    // Documents signed by the retired key are refused now; an older set is a rollback.
    throwsFeed(() => gate.installRevocations(ISSUER, revocationList(ed, 2, []), at(11)), 'feed_key_unknown');
    throwsFeed(() => gate.installKeys(ISSUER, keySet(next, [ed, next], NOW_S + 5), at(11)), 'feed_rollback', 'keys');
    // A set signed by a key the gate never trusted is refused.
    throwsFeed(() => gate.installKeys(ISSUER, keySet(ec, [ec]), at(11)), 'feed_key_unknown', 'keys');
  });

  it('a plain JWKS only where unsigned_jwks says so', () => {
    const jwks = JSON.stringify({ keys: [ed.publicJwk, next.publicJwk] });
    const strict = make(feedConfig([ed]));
    throwsFeed(() => strict.installKeys(ISSUER, jwks, at()), 'feed_unsigned', 'keys');
    const lax = make(feedConfig([ed], { unsigned_jwks: true }, TOKEN_ONLY));
    const state = lax.installKeys(ISSUER, jwks, at());
    assert.deepEqual([state.entries, state.issuedAt, state.expires], [2, null, null]);
    lax.installRevocations(ISSUER, revocationList(ed, 1, []), at());
    assert.equal(decide(lax, mint(next, claims())).reason, 'allowed');
    throwsFeed(() => lax.installKeys(ISSUER, '{"keys": []}', at()), 'feed_malformed');
  });
});

/** A feed on 127.0.0.1 serving `docs` (path → text) with strong ETags and 304s. */
async function startFeed(docs) {
  const hits = [];
  const server = http.createServer((req, res) => {
    const body = docs[req.url];
    const etag = body === undefined ? null : `"${Buffer.from(body).length}-${hash(body)}"`;
    const notModified = etag !== null && req.headers['if-none-match'] === etag;
    hits.push({ path: req.url, status: body === undefined ? 404 : notModified ? 304 : 200 });
    if (body === undefined) return res.writeHead(404).end();
    if (notModified) return res.writeHead(304, { etag }).end();
    res.writeHead(200, { etag, 'cache-control': 'max-age=5', 'content-type': 'application/jwt' }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, hits, url: `http://127.0.0.1:${server.address().port}` };
}

function hash(text) {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) | 0;
  return (h >>> 0).toString(16);
}

describe('examples/feed-poller.mjs against a real HTTP feed', () => {
  const docs = {};
  let feed;
  before(async () => {
    feed = await startFeed(docs);
  });
  after(() => new Promise((resolve) => (feed.server.listening ? feed.server.close(resolve) : resolve())));

  it('installs on 200, confirms on 304, picks up a revocation, fails closed when the feed is gone', async () => {
    docs['/v1/jwks'] = keySet(ed, [ed, next]);
    docs['/v1/revocations'] = revocationList(ed, 1, []);
    docs['/v1/status-lists/0'] = statusList(ed, [0, 0, 0, 0]);
    let clock = NOW_MS;
    const events = [];
    const config = feedConfig([ed]);
    // examples/node-feed.mjs: a gate and a poller per issuer with a feed, polled once.
    const live = await liveGate(config, feed.url, { onEvent: (e) => events.push(e), now: () => clock });
    const { gate } = live;
    const [poller] = live.pollers;
    try {
      assert.deepEqual(
        events.map((e) => [e.kind, e.status, e.state?.changed]),
        [['keys', 200, true], ['revocations', 200, true], ['status_list', 200, true]],
      );
      assert.deepEqual(feed.hits.map((h) => h.path), ['/v1/jwks', '/v1/revocations', '/v1/status-lists/0']);
      // The key set brought `next`: its tokens pass.
      const token = mint(next, claims({ status: { status_list: { idx: 2, uri: LIST_URI } } }));
      assert.equal(decide(gate, token).reason, 'allowed');
      let got = await poller.pollOnce();
      assert.deepEqual(got, [], 'nothing is due yet');

      // Nothing changed: 304s, each confirming what the gate holds.
      clock += 30_000;
      feed.hits.length = 0;
      got = await poller.pollOnce({ all: true });
      assert.deepEqual(got.map((e) => e.status), [304, 304, 304]);
      assert.deepEqual(feed.hits.map((h) => h.status), [304, 304, 304]);
      assert.equal(got[1].state.changed, false);
      assert.equal(got[0].state, undefined, 'a key set has no staleness to confirm');
      assert.equal(gate.decide(request(token), { now: clock }).reason, 'allowed');

      // The approval is revoked at the feed: the next poll brings it.
      docs['/v1/revocations'] = revocationList(ed, 2, ['appr-1'], NOW_S + 40);
      docs['/v1/status-lists/0'] = statusList(ed, [0, 0, 1, 0], { atS: NOW_S + 40 });
      clock += 10_000;
      got = await poller.pollOnce({ all: true });
      assert.deepEqual(got.map((e) => [e.status, e.state?.changed]), [[304, undefined], [200, true], [200, true]]);
      assert.equal(gate.decide(request(token), { now: clock }).reason, 'token_revoked');

      // A replayed older list is refused and the gate keeps seq 2.
      docs['/v1/revocations'] = revocationList(ed, 1, []);
      got = await poller.pollOnce({ all: true });
      assert.equal(got[1].error, 'feed_rollback');
      assert.equal(gate.trustStatus({ now: clock })[0].revocationsSeq, 2);

      // The feed goes away: fetches fail, the last lists serve until max_stale_s, then
      // every approval of the issuer is denied.
      const closed = new Promise((resolve) => feed.server.close(resolve));
      feed.server.closeAllConnections();
      await closed;
      clock += 30_000;
      got = await poller.pollOnce({ all: true });
      assert.ok(got.every((e) => e.error !== undefined && e.status === undefined), JSON.stringify(got));
      const fresh = mint(next, claims({ jti: 'appr-2', status: { status_list: { idx: 0, uri: LIST_URI } } }));
      assert.equal(gate.decide(request(fresh), { now: clock }).reason, 'allowed');
      clock += 31_000;
      assert.equal(gate.decide(request(fresh), { now: clock }).reason, 'revocations_stale');
    } finally {
      await live.stop();
    }
  });

  it('start() polls on its own every refresh_s, and stop() ends it', async () => {
    const { server, hits, url } = await startFeed({
      '/v1/revocations': revocationList(ed, 1, [], Math.floor(Date.now() / 1000)),
    });
    const config = feedConfig([ed], { refresh_s: 1, status_lists: {}, jwks_path: undefined });
    const gate = make(config);
    const poller = new FeedPoller(gate, { issuer: config.issuers[0], baseUrl: url });
    try {
      poller.start();
      await new Promise((resolve) => setTimeout(resolve, 2300));
      await poller.stop();
      const revocationHits = hits.filter((h) => h.path === '/v1/revocations');
      assert.ok(revocationHits.length >= 2 && revocationHits.length <= 4, JSON.stringify(hits));
      assert.equal(revocationHits[0].status, 200);
      assert.ok(revocationHits.slice(1).every((h) => h.status === 304), JSON.stringify(hits));
      assert.equal(gate.trustStatus()[0].revocationsSeq, 1);
      const count = hits.length;
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal(hits.length, count, 'no fetch after stop()');
    } finally {
      await poller.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
