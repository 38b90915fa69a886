import type { ChangeEvent, Instance, Operation } from '../../../core/instances/instance.js';
import { instanceView } from '../instances/views.js';
import { operationView } from '../operations/views.js';

/** The SSE event name of a change: `instance.created`, `instance.updated`, `operation.updated`, … */
export function eventName(event: ChangeEvent): string {
  return `${event.resource}.${event.type}`;
}

/**
 * One server-sent event frame: `id:` the event id (what Last-Event-ID resumes after), `event:` its name, `data:` the
 * native view of the resource after the change. Event data is the stored JSON of the domain record (dates as
 * strings), which the views accept.
 */
export function eventFrame(event: ChangeEvent, region: string): string {
  let data: unknown;
  try {
    data =
      event.resource === 'instance'
        ? instanceView(event.data as unknown as Instance)
        : operationView(event.data as unknown as Operation, region);
  } catch {
    // A record from an older schema version: still tell the client what changed, so it can re-read it.
    data = { id: event.resourceId };
  }
  // JSON.stringify never emits raw newlines, so the payload is always one `data:` line.
  return `id: ${event.id}\nevent: ${eventName(event)}\ndata: ${JSON.stringify(data)}\n\n`;
}
