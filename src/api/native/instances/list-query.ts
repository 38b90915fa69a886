import type { ListInstancesQuery as CoreListQuery, InstanceOrder } from '../../../core/ports.js';
import type { InstancePhase } from '../../../core/instances/lifecycle.js';
import { invalidField } from '../../http/request-errors.js';
import { LabelSelectorSyntaxError, parseLabelSelector } from '../label-selector.js';
import { decodePageToken, PageTokenError } from '../page-token.js';
import type { ListInstancesQuery } from './schemas.js';
import { phaseOfStatus } from './views.js';

/**
 * Translates the list query string into the core's query, with each syntax error addressed at its parameter.
 * @throws RequestValidationError
 */
export function translateListQuery(project: string, query: ListInstancesQuery): CoreListQuery {
  const order: InstanceOrder = query.orderBy ?? 'createdAt';
  let after = null;
  if (query.pageToken !== undefined) {
    try {
      after = decodePageToken(query.pageToken, order);
    } catch (error) {
      if (error instanceof PageTokenError) throw invalidField('query', '/pageToken', error.message);
      throw error;
    }
  }
  let labels;
  try {
    labels = parseLabelSelector(query.labelSelector ?? '');
  } catch (error) {
    if (error instanceof LabelSelectorSyntaxError) throw invalidField('query', '/labelSelector', error.message);
    throw error;
  }
  let phases: InstancePhase[] | null = null;
  if (query.status !== undefined && query.status.trim() !== '') {
    phases = query.status.split(',').map((status) => {
      const phase = phaseOfStatus(status);
      if (!phase) throw invalidField('query', '/status', `unknown status ${JSON.stringify(status.trim().slice(0, 40))}`);
      return phase;
    });
  }
  return { projectId: project, limit: query.pageSize ?? 50, order, after, phases, labels };
}
