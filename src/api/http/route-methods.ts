/**
 * Which methods the registered routes accept for a concrete path, so an unknown method on a known path can answer
 * 405 with `Allow` instead of 404. Only consulted on the not-found path, so its linear scan costs nothing per request.
 */
export class RouteMethods {
  private readonly routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  private readonly byUrl = new Map<string, Set<string>>();

  /** Records a route as Fastify registers it (`onRoute`). */
  add(url: string, method: string | string[]): void {
    let methods = this.byUrl.get(url);
    if (!methods) {
      methods = new Set();
      this.byUrl.set(url, methods);
      this.routes.push({ pattern: routePattern(url), methods });
    }
    for (const name of Array.isArray(method) ? method : [method]) methods.add(name.toUpperCase());
  }

  /** Methods allowed on a concrete path (no query string), sorted; empty when no route matches it. */
  allowed(path: string): string[] {
    const found = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const method of route.methods) found.add(method);
    return [...found].sort();
  }
}

/** Compiles a find-my-way route (`/a/:id`, `/a/:id(^re)::start`, `/a/*`) into a regular expression over paths. */
export function routePattern(url: string): RegExp {
  let source = '';
  for (let index = 0; index < url.length; ) {
    const char = url[index] as string;
    if (char === ':' && url[index + 1] === ':') {
      source += ':';
      index += 2;
    } else if (char === ':') {
      index += 1;
      while (index < url.length && /[A-Za-z0-9_]/.test(url[index] as string)) index += 1;
      if (url[index] === '(') {
        // A parameter with its own regular expression: match exactly what the router matches.
        const start = index;
        let depth = 0;
        do {
          if (url[index] === '\\') index += 1;
          else if (url[index] === '(') depth += 1;
          else if (url[index] === ')') depth -= 1;
          index += 1;
        } while (index < url.length && depth > 0);
        source += `(?:${url.slice(start + 1, index - 1).replace(/^\^/, '').replace(/\$$/, '')})`;
      } else {
        source += '[^/]+?';
      }
    } else if (char === '*') {
      source += '.*';
      index += 1;
    } else {
      source += char.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
      index += 1;
    }
  }
  return new RegExp(`^${source}/?$`);
}
