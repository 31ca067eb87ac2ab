// The shared decision vectors, decided by the JS package. The corpus belongs to
// policy-core (one corpus, three hosts: native core, Envoy filter, JS); when it is
// missing, this test fails — it never passes on nothing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { describeCorpus } from './support/vectors.mjs';

const shared = fileURLToPath(new URL('../../policy-core/tests/vectors/decisions.json', import.meta.url));
const sample = fileURLToPath(new URL('./fixtures/sample-vectors.json', import.meta.url));

if (existsSync(shared)) {
  describeCorpus('shared decision vectors (policy-core/tests/vectors/decisions.json)', JSON.parse(readFileSync(shared, 'utf8')));
} else {
  it('shared decision vectors are present', () => {
    assert.fail(`the shared corpus ${shared} is missing: the JS package must decide it like the native core`);
  });
}

describeCorpus('sample vectors (test/fixtures/sample-vectors.json)', JSON.parse(readFileSync(sample, 'utf8')));
