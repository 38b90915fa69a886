import { invalidField } from './request-errors.js';

/**
 * The entity tag of a resource version. Strong, because If-Match uses strong comparison: every change bumps the
 * version, so equal tags mean byte-identical views.
 */
export function entityTag(resourceVersion: number): string {
  return `"${resourceVersion}"`;
}

const TAG = /^(?:W\/)?"([0-9]{1,15})"$/;

/**
 * The resource version an `If-Match` header expects: null when absent or `*` (no check). A weak tag is accepted for
 * its version, since clients copy ETags around carelessly; anything else, or a list of tags, is a 400.
 */
export function parseIfMatch(header: string | string[] | undefined): number | null {
  if (header === undefined) return null;
  const value = typeof header === 'string' ? header.trim() : '';
  if (value === '*') return null;
  const match = TAG.exec(value);
  if (!match?.[1]) throw invalidField('header', '/If-Match', 'must be one entity tag as returned in ETag, e.g. "7", or *');
  return Number(match[1]);
}
