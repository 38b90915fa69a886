import type { LabelRequirement } from '../../core/ports.js';

/** Why a label selector could not be parsed; the message says where. */
export class LabelSelectorSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelSelectorSyntaxError';
  }
}

/** Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes label value: empty, or up to 63 characters. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export const MAX_SELECTOR_REQUIREMENTS = 32;

/** True for a valid Kubernetes-style label key; the same rule the API applies to `labels`. */
export function isLabelKey(key: string): boolean {
  return LABEL_KEY.test(key);
}

/** True for a valid Kubernetes-style label value. */
export function isLabelValue(value: string): boolean {
  return LABEL_VALUE.test(value);
}

/** Splits on commas that are not inside parentheses (`a in (x,y),b` is two requirements). */
function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < selector.length; index++) {
    const char = selector[index];
    if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    if (depth < 0 || depth > 1) throw new LabelSelectorSyntaxError(`unbalanced parentheses at ${index + 1}`);
    if (char === ',' && depth === 0) {
      parts.push(selector.slice(start, index));
      start = index + 1;
    }
  }
  if (depth !== 0) throw new LabelSelectorSyntaxError('unbalanced parentheses');
  parts.push(selector.slice(start));
  return parts.map((part) => part.trim());
}

function checkKey(key: string): string {
  if (!isLabelKey(key)) throw new LabelSelectorSyntaxError(`invalid label key ${JSON.stringify(key.slice(0, 80))}`);
  return key;
}

function checkValue(value: string): string {
  if (!isLabelValue(value)) throw new LabelSelectorSyntaxError(`invalid label value ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

const SET_REQUIREMENT = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const EQUALITY_REQUIREMENT = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/;

function parseRequirement(text: string): LabelRequirement {
  if (!text) throw new LabelSelectorSyntaxError('empty requirement');
  const set = SET_REQUIREMENT.exec(text);
  if (set) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((value) => checkValue(value.trim()));
    if (values.length === 0 || (values.length === 1 && values[0] === '')) {
      throw new LabelSelectorSyntaxError(`${op} needs at least one value`);
    }
    return { key: checkKey(key), op: op === 'in' ? 'in' : 'notin', values };
  }
  const equality = EQUALITY_REQUIREMENT.exec(text);
  if (equality) {
    const [, key = '', op, value = ''] = equality;
    return { key: checkKey(key), op: op === '!=' ? 'neq' : 'eq', value: checkValue(value.trim()) };
  }
  if (text.startsWith('!')) return { key: checkKey(text.slice(1).trim()), op: 'notexists' };
  return { key: checkKey(text), op: 'exists' };
}

/**
 * Parses a Kubernetes label selector: `env=prod`, `env==prod`, `tier!=db`, `app in (a,b)`, `app notin (c)`, `team`
 * (key exists), `!legacy` (key absent), joined by commas (AND). An empty selector selects everything.
 * @throws LabelSelectorSyntaxError
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === '') return [];
  const requirements = splitRequirements(selector).map(parseRequirement);
  if (requirements.length > MAX_SELECTOR_REQUIREMENTS) {
    throw new LabelSelectorSyntaxError(`at most ${MAX_SELECTOR_REQUIREMENTS} requirements`);
  }
  return requirements;
}
