import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CapacityError,
  ConflictError,
  ExpiredError,
  type KumoError,
  ForbiddenError,
  IdempotencyInFlightError,
  IdempotencyMismatchError,
  InvalidStateError,
  NotFoundError,
  PreconditionFailedError,
  QuotaExceededError,
  RateLimitedError,
  UnauthenticatedError,
  ValidationError,
  BillingError,
  UnsupportedError,
} from '../../../src/core/errors.js';
import { canonicalJson, parseIdempotencyKey, requestFingerprint } from '../../../src/api/http/idempotency.js';
import { MetricsRegistry } from '../../../src/api/http/metrics-registry.js';
import { entityTag, parseIfMatch } from '../../../src/api/http/preconditions.js';
import { bearerToken, PrincipalCache } from '../../../src/api/http/principal-cache.js';
import { classifyError, RequestError, RequestValidationError } from '../../../src/api/http/request-errors.js';
import { requestIdFrom } from '../../../src/api/http/request-id.js';
import { routePattern } from '../../../src/api/http/route-methods.js';
import { TokenBucketRateLimiter } from '../../../src/api/http/token-bucket-rate-limiter.js';
import { NATIVE_ERROR_TABLE, renderNativeError } from '../../../src/api/native/native-errors.js';

describe('idempotency fingerprint', () => {
  it('ignores key order at every depth and undefined members', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: null }, u: undefined };
    const b = { a: { x: null, y: [1, { p: 2, q: 1 }] }, b: 1 };
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(requestFingerprint(a), requestFingerprint(b));
    assert.equal(canonicalJson(a), '{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}');
  });

  it('tells different bodies apart, including array order and types', () => {
    assert.notEqual(requestFingerprint({ a: [1, 2] }), requestFingerprint({ a: [2, 1] }));
    assert.notEqual(requestFingerprint({ a: 1 }), requestFingerprint({ a: '1' }));
    assert.equal(requestFingerprint(undefined), requestFingerprint(null));
  });

  it('accepts 1-255 printable characters as a key', () => {
    assert.equal(parseIdempotencyKey(undefined), null);
    assert.equal(parseIdempotencyKey('a'), 'a');
    assert.equal(parseIdempotencyKey('k'.repeat(255)), 'k'.repeat(255));
    for (const bad of ['', 'k'.repeat(256), 'caf\u00e9', 'a\u0000b', ['a', 'b']]) {
      assert.throws(() => parseIdempotencyKey(bad as string), RequestValidationError);
    }
  });
});

describe('If-Match', () => {
  it('parses strong and weak tags, * and absence', () => {
    assert.equal(parseIfMatch(undefined), null);
    assert.equal(parseIfMatch('*'), null);
    assert.equal(parseIfMatch(entityTag(7)), 7);
    assert.equal(parseIfMatch('W/"12"'), 12);
  });

  it('refuses malformed tags and lists', () => {
    for (const bad of ['7', '"x"', '"1", "2"', '', '"99999999999999999"']) assert.throws(() => parseIfMatch(bad), RequestValidationError, bad);
  });
});

describe('token bucket', () => {
  it('allows a burst, then refuses with a retry delay, then refills', () => {
    const limiter = new TokenBucketRateLimiter({ ratePerSecond: 2, burst: 3 });
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('p', 0).allowed, true);
    const refused = limiter.take('p', 0);
    assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1 });
    assert.equal(limiter.take('other', 0).allowed, true, 'buckets are per key');
    assert.equal(limiter.take('p', 600).allowed, true, 'refilled after 0.5 s at 2/s');
  });
});

describe('principal cache and bearer tokens', () => {
  it('expires entries and parses only Bearer', () => {
    const cache = new PrincipalCache(100, 2);
    const principal = { id: 'k', role: 'member' as const, projectId: 'p' };
    cache.set('t', principal, 0);
    assert.equal(cache.get('t', 50), principal);
    assert.equal(cache.get('t', 100), null);
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
  });
});

describe('request ids', () => {
  it('echoes a safe client id and replaces an unsafe one', () => {
    assert.equal(requestIdFrom('abc-123'), 'abc-123');
    for (const bad of ['has space', 'x'.repeat(129), 'caf\u00e9', undefined, ['a']]) {
      assert.match(requestIdFrom(bad as string), /^[0-9a-f-]{36}$/);
    }
  });
});

describe('route patterns', () => {
  it('matches find-my-way parameters, regex parameters and literal colons', () => {
    const action = routePattern('/v1/i/:id(^[^:/]+)::start');
    assert.ok(action.test('/v1/i/vm-1:start'));
    assert.ok(!action.test('/v1/i/vm-1:stop'));
    assert.ok(routePattern('/v1/i/:id').test('/v1/i/abc'));
    assert.ok(!routePattern('/v1/i/:id').test('/v1/i/abc/def'));
  });
});

describe('native error mapping', () => {
  const cases: Array<[Error, number, string]> = [
    [new ValidationError('bad', [{ path: 'nics/0/network', message: 'no' }]), 400, 'INVALID_ARGUMENT'],
    [new UnauthenticatedError(), 401, 'UNAUTHENTICATED'],
    [new BillingError('suspended'), 402, 'BILLING_BLOCKED'],
    [new ForbiddenError(), 403, 'PERMISSION_DENIED'],
    [new QuotaExceededError('instances', 1, 1, 1), 403, 'QUOTA_EXCEEDED'],
    [new NotFoundError('instance', 'x'), 404, 'NOT_FOUND'],
    [new ConflictError('taken'), 409, 'CONFLICT'],
    [new InvalidStateError('start', 'running', ['stopped']), 409, 'INVALID_STATE'],
    [new IdempotencyInFlightError('k'), 409, 'IDEMPOTENCY_KEY_IN_USE'],
    [new ExpiredError('gone'), 410, 'EXPIRED'],
    [new PreconditionFailedError('1', '2'), 412, 'PRECONDITION_FAILED'],
    [new IdempotencyMismatchError('k'), 422, 'IDEMPOTENCY_KEY_REUSED'],
    [new RateLimitedError(3), 429, 'RATE_LIMITED'],
    [new UnsupportedError('no'), 501, 'UNSUPPORTED'],
    [new CapacityError('full', { ram: 2 }, []), 503, 'INSUFFICIENT_CAPACITY'],
  ];
  for (const [error, status, code] of cases) {
    it(`${error.constructor.name} → ${status} ${code}`, () => {
      const classified = classifyError(error);
      assert.ok(classified);
      const rendered = renderNativeError(classified, 'req-1');
      assert.equal(rendered.status, status);
      const body = rendered.body as { error: { code: string; status: number; requestId: string; message: string } };
      assert.equal(body.error.code, code);
      assert.equal(body.error.status, status);
      assert.equal(body.error.requestId, 'req-1');
    });
  }

  it('covers every core error code, each exercised above', () => {
    const exercised = cases.map(([error]) => (error as KumoError).code);
    assert.deepEqual(Object.keys(NATIVE_ERROR_TABLE).sort(), [...exercised, 'internal'].sort());
  });

  it('adds WWW-Authenticate, Retry-After, field details and info', () => {
    assert.equal(renderNativeError(new UnauthenticatedError(), 'r').headers['www-authenticate'], 'Bearer');
    assert.equal(renderNativeError(new RateLimitedError(7), 'r').headers['retry-after'], '7');
    const validation = renderNativeError(new ValidationError('bad', [{ path: 'nics/0/network', message: 'no' }]), 'r');
    assert.deepEqual((validation.body as { error: { details: unknown } }).error.details, [{ field: '/nics/0/network', location: 'body', message: 'no' }]);
    const state = renderNativeError(new InvalidStateError('start', 'running', ['stopped']), 'r');
    assert.deepEqual((state.body as { error: { info: unknown } }).error.info, { action: 'start', state: 'running', allowed: ['stopped'] });
  });

  it('hides internal errors behind a generic 500', () => {
    const internal = new Error('password=hunter2 at /srv/kumo/secret.ts:12');
    assert.equal(classifyError(internal), null);
    const rendered = renderNativeError(classifyError(internal), 'r');
    assert.equal(rendered.status, 500);
    assert.doesNotMatch(JSON.stringify(rendered.body), /hunter2|secret\.ts/);
  });

  it('classifies Fastify client errors', () => {
    const tooLarge = classifyError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }));
    assert.ok(tooLarge instanceof RequestError);
    assert.equal(tooLarge.status, 413);
    const validation = classifyError(
      Object.assign(new Error('x'), { validation: [{ keyword: 'required', instancePath: '/nics/0', params: { missingProperty: 'network' } }], validationContext: 'body' }),
    );
    assert.ok(validation instanceof RequestValidationError);
    assert.deepEqual(validation.violations, [{ location: 'body', path: '/nics/0/network', message: 'is required' }]);
  });
});

describe('metrics registry', () => {
  it('renders counters and cumulative histograms in Prometheus text', () => {
    const registry = new MetricsRegistry();
    registry.counter('kumo_test_total', 'test', ['route']).inc({ route: '/a"b' });
    const histogram = registry.histogram('kumo_test_seconds', 'test', ['route'], [0.1, 1]);
    histogram.observe({ route: 'r' }, 0.05);
    histogram.observe({ route: 'r' }, 0.5);
    const text = registry.render();
    assert.match(text, /kumo_test_total\{route="\/a\\"b"\} 1/);
    assert.match(text, /kumo_test_seconds_bucket\{route="r",le="0.1"\} 1/);
    assert.match(text, /kumo_test_seconds_bucket\{route="r",le="1"\} 2/);
    assert.match(text, /kumo_test_seconds_count\{route="r"\} 2/);
    assert.equal(registry.counter('kumo_test_total', 'test'), registry.counter('kumo_test_total', 'again'));
    assert.throws(() => registry.gauge('kumo_test_total', 'clash'));
  });
});
