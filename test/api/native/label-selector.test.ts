import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabelSelectorSyntaxError, parseLabelSelector } from '../../../src/api/native/label-selector.js';

describe('label selector', () => {
  it('parses every Kubernetes form', () => {
    assert.deepEqual(parseLabelSelector('env=prod,tier!=db,app in (a, b),!legacy,team,x==y,k notin (c)'), [
      { key: 'env', op: 'eq', value: 'prod' },
      { key: 'tier', op: 'neq', value: 'db' },
      { key: 'app', op: 'in', values: ['a', 'b'] },
      { key: 'legacy', op: 'notexists' },
      { key: 'team', op: 'exists' },
      { key: 'x', op: 'eq', value: 'y' },
      { key: 'k', op: 'notin', values: ['c'] },
    ]);
  });

  it('accepts prefixed keys, empty values and an empty selector', () => {
    assert.deepEqual(parseLabelSelector('kumo.dev/role='), [{ key: 'kumo.dev/role', op: 'eq', value: '' }]);
    assert.deepEqual(parseLabelSelector('  '), []);
  });

  for (const bad of ['env=prod,', '=x', 'a in (', 'a in ()', 'a in ((b))', 'bad key=1', 'a=b c', 'a=' + 'x'.repeat(64), '-a', 'a!', ')', '__proto__ in (x']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseLabelSelector(bad), LabelSelectorSyntaxError);
    });
  }

  it('bounds the number of requirements', () => {
    assert.throws(() => parseLabelSelector(Array.from({ length: 33 }, (_, i) => `k${i}`).join(',')), LabelSelectorSyntaxError);
  });
});
